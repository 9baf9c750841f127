package photometa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xmpResult is what blankXMP did.
type xmpResult int

const (
	xmpClean   xmpResult = iota // no GPS property (or blanked before)
	xmpBlanked                  // GPS properties were blanked
	xmpCorrupt                  // not well-formed XML (or UTF-16): the caller blanks it whole
)

// blankXMP blanks the GPS properties of the XMP packet b in place, in both of RDF's forms: an
// attribute (exif:GPSLatitude="48,51.5N") is replaced by spaces, name and value, and so is an
// element (<exif:GPSLatitude>…</exif:GPSLatitude>) from its start tag to its end tag. Spaces
// between attributes and between property elements are insignificant in RDF/XML, so the packet
// stays well-formed and means the same, minus the location, and its length does not change. A
// property is a GPS one when its local name starts with "GPS" in any case and any namespace:
// exif:GPS* (which IPTC's location structures use too), and the drone makers' Gps* ones.
//
// Trailing NUL padding is allowed; anything else that is not well-formed UTF-8 XML is
// xmpCorrupt.
func blankXMP(b []byte) xmpResult {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		if bytes.ContainsFunc(b[i:], func(r rune) bool { return r != 0 }) {
			return xmpCorrupt
		}
		b = b[:i]
	}
	switch changed, ok, _ := blankXML(b, false); {
	case !ok:
		return xmpCorrupt
	case changed:
		return xmpBlanked
	}
	return xmpClean
}

// blankXML blanks the GPS properties of the XML in b (see blankXMP) and reports whether a byte
// changed, whether the XML was well-formed, and where the parse ended. With rootOnly it reads
// only up to the end of the first element (a packet found by the sweep, followed by anything);
// otherwise all of b must be well-formed. GPS properties found before a syntax error are
// blanked all the same, and so is, when b ends in the middle of the XML (a truncated file),
// the GPS property it ends in.
func blankXML(b []byte, rootOnly bool) (changed, ok bool, n int) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	blank := func(start, end int64) {
		changed = fill(b[start:end], ' ') || changed
	}
	depth := 0
	gpsDepth, gpsStart := 0, int64(0) // inside a GPS element: its depth below it, where it starts
	for {
		prev := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) && !rootOnly {
			return changed, true, len(b)
		}
		if err != nil {
			if d.InputOffset() == int64(len(b)) { // cut short: what is left of a GPS property goes
				switch {
				case gpsDepth > 0:
					blank(gpsStart, int64(len(b)))
				case prev < int64(len(b)) && b[prev] == '<' && bytes.Contains(bytes.ToLower(b[prev:]), []byte("gps")):
					blank(prev, int64(len(b))) // a start tag cut in its attributes
				}
			}
			return changed, false, int(d.InputOffset())
		}
		cur := d.InputOffset()
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case gpsDepth > 0:
				gpsDepth++
			case isGPS(t.Name):
				if depth == 1 {
					return changed, false, int(cur) // blanking the root would leave no document
				}
				gpsDepth, gpsStart = 1, prev
			default:
				spans, ok := attributeSpans(b[prev:cur])
				if !ok || len(spans) != len(t.Attr) {
					return changed, false, int(cur)
				}
				for i, a := range t.Attr {
					if isGPS(a.Name) {
						blank(prev+int64(spans[i][0]), prev+int64(spans[i][1]))
					}
				}
			}
		case xml.EndElement:
			depth--
			if gpsDepth > 0 {
				if gpsDepth--; gpsDepth == 0 {
					blank(gpsStart, cur)
				}
			}
			if depth == 0 && rootOnly {
				return changed, true, int(cur)
			}
		}
	}
}

// isGPS reports whether an XMP property (element or attribute) is a GPS one. Namespace
// declarations are not properties.
func isGPS(n xml.Name) bool {
	if n.Space == "xmlns" || n.Space == "" && n.Local == "xmlns" {
		return false
	}
	return len(n.Local) >= 3 && strings.EqualFold(n.Local[:3], "gps")
}

// attributeSpans returns where each attribute of the start tag tag lies (name="value", as
// offsets into tag), in order. The decoder has checked the tag is well-formed; ok is false if
// this simple scanner disagrees.
func attributeSpans(tag []byte) (spans [][2]int, ok bool) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	if len(tag) == 0 || tag[0] != '<' {
		return nil, false
	}
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++ // the element's name
	}
	for {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) {
			return nil, false
		}
		if tag[i] == '/' || tag[i] == '>' {
			return spans, true
		}
		start := i
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '=' {
			i++
		}
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			return nil, false
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '"' && tag[i] != '\'' {
			return nil, false
		}
		end := bytes.IndexByte(tag[i+1:], tag[i])
		if end < 0 {
			return nil, false
		}
		i += 1 + end + 1
		spans = append(spans, [2]int{start, i})
	}
}
