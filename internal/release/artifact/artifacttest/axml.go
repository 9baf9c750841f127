package artifacttest

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// A minimal encoder of Android's compiled XML, enough for a manifest whose values are all
// literal (no resources.arsc). The artifact package's own tests carry the full encoder; this
// one exists so that other packages can build real APKs without reaching into test files.

const (
	androidNS         = "http://schemas.android.com/apk/res/android"
	noRef             = 0xffffffff
	chunkStringPool   = 0x0001
	chunkXML          = 0x0003
	chunkXMLStartNS   = 0x0100
	chunkXMLEndNS     = 0x0101
	chunkXMLStartElem = 0x0102
	chunkXMLEndElem   = 0x0103
	chunkXMLResMap    = 0x0180
	typeString        = 0x03
	typeIntDec        = 0x10
	attrLen           = 20
)

// le writes little-endian values into a growing buffer.
type le struct{ bytes.Buffer }

func (w *le) u8(v uint8)   { w.WriteByte(v) }
func (w *le) u16(v uint16) { _ = binary.Write(w, binary.LittleEndian, v) }
func (w *le) u32(v uint32) { _ = binary.Write(w, binary.LittleEndian, v) }

func chunk(typ uint16, extra, body []byte) []byte {
	var w le
	w.u16(typ)
	w.u16(uint16(8 + len(extra)))
	w.u32(uint32(8 + len(extra) + len(body)))
	w.Write(extra)
	w.Write(body)
	return w.Bytes()
}

// pool assigns string indexes; attribute names with resource ids come first because the
// resource map is indexed by string index.
type pool struct {
	strs  []string
	index map[string]uint32
}

func (p *pool) ref(s string) uint32 {
	if i, ok := p.index[s]; ok {
		return i
	}
	if p.index == nil {
		p.index = map[string]uint32{}
	}
	p.index[s] = uint32(len(p.strs))
	p.strs = append(p.strs, s)
	return p.index[s]
}

func (p *pool) encode() []byte {
	var data le
	offsets := make([]uint32, len(p.strs))
	for i, s := range p.strs {
		offsets[i] = uint32(data.Len())
		u := utf16.Encode([]rune(s))
		data.u16(uint16(len(u)))
		for _, c := range u {
			data.u16(c)
		}
		data.u16(0)
	}
	for data.Len()%4 != 0 {
		data.u8(0)
	}
	var hdr le
	hdr.u32(uint32(len(p.strs)))
	hdr.u32(0)
	hdr.u32(0) // UTF-16
	hdr.u32(uint32(28 + 4*len(p.strs)))
	hdr.u32(0)
	var body le
	for _, o := range offsets {
		body.u32(o)
	}
	body.Write(data.Bytes())
	return chunk(chunkStringPool, hdr.Bytes(), body.Bytes())
}

// attr is one attribute: in the android namespace when resID is set; a string when str is
// non-nil, else a decimal integer.
type attr struct {
	name  string
	resID uint32
	str   *string
	num   uint32
}

type elem struct {
	name     string
	attrs    []attr
	children []elem
}

func strAttr(name string, resID uint32, s string) attr {
	return attr{name: name, resID: resID, str: &s}
}
func intAttr(name string, resID uint32, v uint32) attr { return attr{name: name, resID: resID, num: v} }

// encodeAXML encodes root as a compiled XML document with the android namespace declared.
func encodeAXML(root elem) []byte {
	var p pool
	var ids []uint32
	var collect func(e elem)
	collect = func(e elem) {
		for _, a := range e.attrs {
			if _, seen := p.index[a.name]; a.resID != 0 && !seen {
				p.ref(a.name)
				ids = append(ids, a.resID)
			}
		}
		for _, c := range e.children {
			collect(c)
		}
	}
	collect(root)
	prefix, uri := p.ref("android"), p.ref(androidNS)

	var body bytes.Buffer
	node := func(typ uint16, ext []byte) {
		var hdr le
		hdr.u32(1)
		hdr.u32(noRef)
		body.Write(chunk(typ, hdr.Bytes(), ext))
	}
	var ns le
	ns.u32(prefix)
	ns.u32(uri)
	node(chunkXMLStartNS, ns.Bytes())
	var write func(e elem)
	write = func(e elem) {
		var ext le
		ext.u32(noRef)
		ext.u32(p.ref(e.name))
		ext.u16(20)
		ext.u16(attrLen)
		ext.u16(uint16(len(e.attrs)))
		ext.u16(0)
		ext.u16(0)
		ext.u16(0)
		for _, a := range e.attrs {
			nsRef := uint32(noRef)
			if a.resID != 0 {
				nsRef = uri
			}
			ext.u32(nsRef)
			ext.u32(p.ref(a.name))
			raw, typ, data := uint32(noRef), uint8(typeIntDec), a.num
			if a.str != nil {
				raw, typ = p.ref(*a.str), typeString
				data = raw
			}
			ext.u32(raw)
			ext.u16(8)
			ext.u8(0)
			ext.u8(typ)
			ext.u32(data)
		}
		node(chunkXMLStartElem, ext.Bytes())
		for _, c := range e.children {
			write(c)
		}
		var end le
		end.u32(noRef)
		end.u32(p.ref(e.name))
		node(chunkXMLEndElem, end.Bytes())
	}
	write(root)
	node(chunkXMLEndNS, ns.Bytes())

	var out bytes.Buffer
	out.Write(p.encode())
	var m le
	for _, id := range ids {
		m.u32(id)
	}
	out.Write(chunk(chunkXMLResMap, nil, m.Bytes()))
	out.Write(body.Bytes())
	return chunk(chunkXML, nil, out.Bytes())
}
