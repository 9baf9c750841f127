package photometa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// spaced returns s with each of parts (which must occur in s) replaced by as many spaces.
func spaced(t *testing.T, s string, parts ...string) string {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%q is not in %q", p, s)
		}
		s = strings.Replace(s, p, strings.Repeat(" ", len(p)), 1)
	}
	return s
}

// wellFormed fails unless b is well-formed XML.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimRight(b, "\x00")))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("not well-formed after blanking: %v\n%s", err, b)
		}
	}
}

const (
	xmpHead = `<?xpacket begin='` + "\ufeff" + `' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>` +
		`<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>`
	xmpTail = `</rdf:RDF></x:xmpmeta><?xpacket end='w'?>`
	nsDecl  = ` xmlns:exif='http://ns.adobe.com/exif/1.0/' xmlns:tiff='http://ns.adobe.com/tiff/1.0/'`
)

func TestBlankXMP(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    string
		blank []string // what becomes spaces; nil with corrupt
		want  xmpResult
	}{
		{
			name:  "blanks GPS attributes, name and value, and keeps the others",
			in:    `<rdf:Description rdf:about=''` + nsDecl + ` exif:GPSLatitude='48,51.504N' tiff:Orientation="6" exif:GPSLongitude="2,17.67E"/>`,
			blank: []string{`exif:GPSLatitude='48,51.504N'`, `exif:GPSLongitude="2,17.67E"`},
			want:  xmpBlanked,
		},
		{
			name:  "blanks GPS elements from start tag to end tag, entities and all",
			in:    `<rdf:Description rdf:about=''` + nsDecl + `><exif:GPSLatitude>&#52;8,51.504N</exif:GPSLatitude><tiff:Make>Cam</tiff:Make><exif:GPSAltitude>35/1</exif:GPSAltitude></rdf:Description>`,
			blank: []string{`<exif:GPSLatitude>&#52;8,51.504N</exif:GPSLatitude>`, `<exif:GPSAltitude>35/1</exif:GPSAltitude>`},
			want:  xmpBlanked,
		},
		{
			name: "blanks a GPS element with children, comments and CDATA, and a self-closing one",
			in: `<rdf:Description rdf:about=''` + nsDecl + `><exif:GPSVersionID><rdf:Seq><rdf:li>2</rdf:li><!-- x --><rdf:li><![CDATA[3]]></rdf:li></rdf:Seq></exif:GPSVersionID>` +
				`<exif:GPSAreaInformation rdf:resource='urn:x'/></rdf:Description>`,
			blank: []string{`<exif:GPSVersionID><rdf:Seq><rdf:li>2</rdf:li><!-- x --><rdf:li><![CDATA[3]]></rdf:li></rdf:Seq></exif:GPSVersionID>`,
				`<exif:GPSAreaInformation rdf:resource='urn:x'/>`},
			want: xmpBlanked,
		},
		{
			name: "blanks GPS inside IPTC's location structure and keeps the place name (not a GPS property)",
			in: `<rdf:Description rdf:about=''` + nsDecl + ` xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'><Iptc4xmpExt:LocationCreated><rdf:Bag><rdf:li rdf:parseType='Resource'>` +
				`<exif:GPSLatitude>48,51.5N</exif:GPSLatitude><Iptc4xmpExt:City>Paris</Iptc4xmpExt:City></rdf:li></rdf:Bag></Iptc4xmpExt:LocationCreated></rdf:Description>`,
			blank: []string{`<exif:GPSLatitude>48,51.5N</exif:GPSLatitude>`},
			want:  xmpBlanked,
		},
		{
			name:  "blanks any namespace's GPS properties whatever their case, and keeps a namespace declared as gps",
			in:    `<rdf:Description rdf:about='' xmlns:gps='urn:gps' xmlns:drone-dji='http://www.dji.com/drone-dji/1.0/' drone-dji:GpsLatitude="48.85" drone-dji:FlightYawDegree="1"/>`,
			blank: []string{`drone-dji:GpsLatitude="48.85"`},
			want:  xmpBlanked,
		},
		{
			name: "leaves a packet without GPS alone, NUL padding allowed",
			in:   `<rdf:Description rdf:about=''` + nsDecl + ` tiff:Orientation='6'/>` + xmpTail + "\x00\x00\x00",
			want: xmpClean,
		},
		{name: "is corrupt when anything but NULs follows a NUL", in: `<rdf:Description rdf:about=''/>` + "\x00 <exif:GPSLatitude>1</exif:GPSLatitude>", want: xmpCorrupt},
		{name: "is corrupt when tags do not match", in: `<rdf:Description><exif:GPSLatitude>1</rdf:Description>`, want: xmpCorrupt},
		{name: "is corrupt with an unknown entity", in: `<rdf:Description exif:GPSLatitude='&nbsp;'/>`, want: xmpCorrupt},
		{name: "is corrupt when it ends early", in: `<rdf:Description><exif:GPSLatitude>48`, want: xmpCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := xmpHead + c.in
			if !strings.Contains(c.in, xmpTail) {
				in += xmpTail
			}
			b := []byte(in)
			if got := blankXMP(b); got != c.want {
				t.Fatalf("blankXMP = %v, want %v", got, c.want)
			}
			if len(b) != len(in) {
				t.Fatalf("length %d -> %d", len(in), len(b))
			}
			if c.want == xmpCorrupt {
				return
			}
			if want := spaced(t, in, c.blank...); string(b) != want {
				t.Fatalf("blanked\n%s\nwant\n%s", b, want)
			}
			wellFormed(t, b)
			if again := blankXMP(b); again != xmpClean {
				t.Fatalf("a second blankXMP = %v", again)
			}
		})
	}
	t.Run("is corrupt in UTF-16 or with a GPS property for a root", func(t *testing.T) {
		for _, in := range []string{
			`<?xml version='1.0' encoding='UTF-16'?><x:xmpmeta/>`,
			`<exif:GPSLatitude xmlns:exif='http://ns.adobe.com/exif/1.0/'>48</exif:GPSLatitude>`,
		} {
			if got := blankXMP([]byte(in)); got != xmpCorrupt {
				t.Errorf("blankXMP(%q) = %v", in, got)
			}
		}
	})
}
