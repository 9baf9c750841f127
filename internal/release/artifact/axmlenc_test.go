package artifact

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// A minimal encoder of Android's binary XML and resource table formats, enough to build real
// APKs in tests. It writes what aapt2 writes for the parts Inspect reads; the oracle test
// checks the result with an independent parser (github.com/shogo82148/androidbinary).

// le writes little-endian values into a growing buffer.
type le struct{ bytes.Buffer }

func (w *le) u8(v uint8)   { w.WriteByte(v) }
func (w *le) u16(v uint16) { _ = binary.Write(w, binary.LittleEndian, v) }
func (w *le) u32(v uint32) { _ = binary.Write(w, binary.LittleEndian, v) }

// chunkBytes wraps body in a chunk of type typ whose header is the 8-byte common header
// followed by extra.
func chunkBytes(typ uint16, extra, body []byte) []byte {
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
	return chunkBytes(chunkStringPool, hdr.Bytes(), body.Bytes())
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

// xmlAttr is one attribute. android selects the android namespace; resID is its resource id
// (0 for none); str, when set, is a string value, else typ/data is a typed value.
type xmlAttr struct {
	android bool
	name    string
	resID   uint32
	str     *string
	typ     uint8
	data    uint32
}

type xmlElem struct {
	name     string
	attrs    []xmlAttr
	children []xmlElem
}

func strAttr(name string, resID uint32, s string) xmlAttr {
	return xmlAttr{android: resID != 0, name: name, resID: resID, str: &s, typ: typeString}
}

func intAttr(name string, resID uint32, v uint32) xmlAttr {
	return xmlAttr{android: true, name: name, resID: resID, typ: typeIntDec, data: v}
}

func refAttr(name string, resID uint32, ref uint32) xmlAttr {
	return xmlAttr{android: true, name: name, resID: resID, typ: typeReference, data: ref}
}

// encodeAXML encodes root as a compiled XML file with the android namespace declared.
func encodeAXML(root xmlElem, withResMap bool) []byte {
	var pool stringTable
	var ids []uint32
	var collect func(e xmlElem)
	collect = func(e xmlElem) { // resource-id'd attribute names first
		for _, a := range e.attrs {
			if a.resID != 0 && withResMap {
				if _, seen := pool.index[a.name]; !seen {
					pool.ref(a.name)
					ids = append(ids, a.resID)
				}
			}
		}
		for _, c := range e.children {
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
		body.Write(chunkBytes(typ, hdr.Bytes(), ext))
	}
	var nsExt le
	nsExt.u32(prefix)
	nsExt.u32(uri)
	node(0x0100, nsExt.Bytes())
	var write func(e xmlElem)
	write = func(e xmlElem) {
		var ext le
		ext.u32(noRef)
		ext.u32(pool.ref(e.name))
		ext.u16(20) // attributeStart
		ext.u16(attrLen)
		ext.u16(uint16(len(e.attrs)))
		ext.u16(0)
		ext.u16(0)
		ext.u16(0)
		for _, a := range e.attrs {
			ns := uint32(noRef)
			if a.android {
				ns = uri
			}
			ext.u32(ns)
			ext.u32(pool.ref(a.name))
			raw, data := uint32(noRef), a.data
			if a.str != nil {
				raw = pool.ref(*a.str)
				data = raw
			}
			ext.u32(raw)
			ext.u16(8)
			ext.u8(0)
			ext.u8(a.typ)
			ext.u32(data)
		}
		node(chunkXMLStartElem, ext.Bytes())
		for _, c := range e.children {
			write(c)
		}
		var end le
		end.u32(noRef)
		end.u32(pool.ref(e.name))
		node(chunkXMLEndElem, end.Bytes())
	}
	write(root)
	node(0x0101, nsExt.Bytes())

	var out bytes.Buffer
	out.Write(encodeStringPool(pool.strs, false))
	if withResMap {
		var m le
		for _, id := range ids {
			m.u32(id)
		}
		out.Write(chunkBytes(chunkXMLResMap, nil, m.Bytes()))
	}
	out.Write(body.Bytes())
	return chunkBytes(chunkXML, nil, out.Bytes())
}
