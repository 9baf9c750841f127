package artifacttest

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// An encoder of Android's compiled XML, enough to build real manifests. It writes what aapt2
// writes for the parts artifact.Inspect reads; the artifact package's oracle test checks the
// result with an independent parser (github.com/shogo82148/androidbinary).

const (
	androidNS         = "http://schemas.android.com/apk/res/android"
	noRef             = 0xffffffff
	chunkStringPool   = 0x0001
	chunkTable        = 0x0002
	chunkXML          = 0x0003
	chunkXMLStartNS   = 0x0100
	chunkXMLEndNS     = 0x0101
	chunkXMLStartElem = 0x0102
	chunkXMLEndElem   = 0x0103
	chunkXMLResMap    = 0x0180
	chunkTablePackage = 0x0200
	chunkTableType    = 0x0201
	chunkTableSpec    = 0x0202
	typeReference     = 0x01
	typeString        = 0x03
	typeIntDec        = 0x10
	attrLen           = 20
)

// le writes little-endian values into a growing buffer.
type le struct{ bytes.Buffer }

func (w *le) u8(v uint8)   { w.WriteByte(v) }
func (w *le) u16(v uint16) { _ = binary.Write(w, binary.LittleEndian, v) }
func (w *le) u32(v uint32) { _ = binary.Write(w, binary.LittleEndian, v) }

// chunk wraps body in a chunk of type typ whose header is the 8-byte common header followed
// by extra.
func chunk(typ uint16, extra, body []byte) []byte {
	var w le
	w.u16(typ)
	w.u16(uint16(8 + len(extra)))
	w.u32(uint32(8 + len(extra) + len(body)))
	w.Write(extra)
	w.Write(body)
	return w.Bytes()
}

// encodeStringPool encodes strs as a ResStringPool chunk, UTF-8 or UTF-16.
func encodeStringPool(strs []string, utf8 bool) []byte {
	var data le
	offsets := make([]uint32, len(strs))
	for i, s := range strs {
		offsets[i] = uint32(data.Len())
		if utf8 {
			units := len(utf16.Encode([]rune(s)))
			data.u8(uint8(units)) // short strings only: one-byte lengths
			data.u8(uint8(len(s)))
			data.WriteString(s)
			data.u8(0)
		} else {
			u := utf16.Encode([]rune(s))
			data.u16(uint16(len(u)))
			for _, c := range u {
				data.u16(c)
			}
			data.u16(0)
		}
	}
	for data.Len()%4 != 0 {
		data.u8(0)
	}
	var hdr le
	hdr.u32(uint32(len(strs)))
	hdr.u32(0) // styles
	flags := uint32(0)
	if utf8 {
		flags = 1 << 8
	}
	hdr.u32(flags)
	hdr.u32(uint32(28 + 4*len(strs))) // stringsStart, from the chunk start
	hdr.u32(0)
	var body le
	for _, o := range offsets {
		body.u32(o)
	}
	body.Write(data.Bytes())
	return chunk(chunkStringPool, hdr.Bytes(), body.Bytes())
}

// stringTable assigns pool indexes; names with resource ids must come first, as the
// resource map is indexed by string index.
type stringTable struct {
	strs  []string
	index map[string]uint32
}

func (t *stringTable) ref(s string) uint32 {
	if t.index == nil {
		t.index = map[string]uint32{}
	}
	if i, ok := t.index[s]; ok {
		return i
	}
	t.index[s] = uint32(len(t.strs))
	t.strs = append(t.strs, s)
	return t.index[s]
}

// Attr is one attribute of a compiled XML element.
type Attr struct {
	// Android puts the attribute in the android namespace.
	Android bool
	// Name is the attribute's local name.
	Name string
	// ResID is the attribute's resource id, or 0 for none.
	ResID uint32
	// Str, when set, makes the value a string; otherwise Type and Data are a typed value.
	Str *string
	// Type is the Res_value data type.
	Type uint8
	// Data is the Res_value data.
	Data uint32
}

// Elem is one element of a compiled XML document.
type Elem struct {
	// Name is the element's name.
	Name string
	// Attrs are its attributes, in order.
	Attrs []Attr
	// Children are its child elements, in order.
	Children []Elem
}

// StrAttr returns a string attribute, in the android namespace when resID is set.
func StrAttr(name string, resID uint32, s string) Attr {
	return Attr{Android: resID != 0, Name: name, ResID: resID, Str: &s, Type: typeString}
}

// IntAttr returns an android decimal integer attribute.
func IntAttr(name string, resID uint32, v uint32) Attr {
	return Attr{Android: true, Name: name, ResID: resID, Type: typeIntDec, Data: v}
}

// RefAttr returns an android attribute that refers to the resource ref.
func RefAttr(name string, resID uint32, ref uint32) Attr {
	return Attr{Android: true, Name: name, ResID: resID, Type: typeReference, Data: ref}
}

// EncodeAXML encodes root as a compiled XML file with the android namespace declared, with
// or without the resource map that tells attributes apart by id.
func EncodeAXML(root Elem, withResMap bool) []byte {
	var pool stringTable
	var ids []uint32
	var collect func(e Elem)
	collect = func(e Elem) { // resource-id'd attribute names first
		for _, a := range e.Attrs {
			if a.ResID != 0 && withResMap {
				if _, seen := pool.index[a.Name]; !seen {
					pool.ref(a.Name)
					ids = append(ids, a.ResID)
				}
			}
		}
		for _, c := range e.Children {
			collect(c)
		}
	}
	collect(root)
	prefix, uri := pool.ref("android"), pool.ref(androidNS)

	var body bytes.Buffer
	node := func(typ uint16, ext []byte) {
		var hdr le
		hdr.u32(1)     // line number
		hdr.u32(noRef) // comment
		body.Write(chunk(typ, hdr.Bytes(), ext))
	}
	var nsExt le
	nsExt.u32(prefix)
	nsExt.u32(uri)
	node(chunkXMLStartNS, nsExt.Bytes())
	var write func(e Elem)
	write = func(e Elem) {
		var ext le
		ext.u32(noRef)
		ext.u32(pool.ref(e.Name))
		ext.u16(20) // attributeStart
		ext.u16(attrLen)
		ext.u16(uint16(len(e.Attrs)))
		ext.u16(0)
		ext.u16(0)
		ext.u16(0)
		for _, a := range e.Attrs {
			ns := uint32(noRef)
			if a.Android {
				ns = uri
			}
			ext.u32(ns)
			ext.u32(pool.ref(a.Name))
			raw, data := uint32(noRef), a.Data
			if a.Str != nil {
				raw = pool.ref(*a.Str)
				data = raw
			}
			ext.u32(raw)
			ext.u16(8)
			ext.u8(0)
			ext.u8(a.Type)
			ext.u32(data)
		}
		node(chunkXMLStartElem, ext.Bytes())
		for _, c := range e.Children {
			write(c)
		}
		var end le
		end.u32(noRef)
		end.u32(pool.ref(e.Name))
		node(chunkXMLEndElem, end.Bytes())
	}
	write(root)
	node(chunkXMLEndNS, nsExt.Bytes())

	var out bytes.Buffer
	out.Write(encodeStringPool(pool.strs, false))
	if withResMap {
		var m le
		for _, id := range ids {
			m.u32(id)
		}
		out.Write(chunk(chunkXMLResMap, nil, m.Bytes()))
	}
	out.Write(body.Bytes())
	return chunk(chunkXML, nil, out.Bytes())
}
