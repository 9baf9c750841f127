package artifacttest

import (
	"bytes"
	"cmp"
	"slices"
)

// ResValue is one value of a resource in one configuration: a string (added to the global
// pool automatically) or a reference.
type ResValue struct {
	// TypeID is the 1-based index into the package's type names.
	TypeID uint8
	// Entry is the entry index within the type.
	Entry uint16
	// Lang is "" or a two-letter language.
	Lang string
	// Density is the configuration's screen density, 0 for any.
	Density uint16
	// Str is the string value, used when Ref is 0.
	Str string
	// Ref is the resource the value refers to.
	Ref uint32
}

// EncodeARSC encodes a resources.arsc with one package (0x7f) holding values. Each type gets
// a type-spec chunk and one type chunk per configuration, with 32-bit entry offsets.
func EncodeARSC(typeNames, keyNames []string, values []ResValue) []byte {
	var global stringTable
	type cfgKey struct {
		typeID  uint8
		lang    string
		density uint16
	}
	groups := map[cfgKey][]ResValue{}
	entryCount := map[uint8]int{}
	for _, v := range values {
		k := cfgKey{v.TypeID, v.Lang, v.Density}
		groups[k] = append(groups[k], v)
		entryCount[v.TypeID] = max(entryCount[v.TypeID], int(v.Entry)+1)
		if v.Ref == 0 {
			global.ref(v.Str)
		}
	}
	keys := make([]cfgKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b cfgKey) int {
		return cmp.Or(cmp.Compare(a.typeID, b.typeID), cmp.Compare(a.lang, b.lang), cmp.Compare(a.density, b.density))
	})

	var chunks bytes.Buffer
	chunks.Write(encodeStringPool(typeNames, false))
	keyPoolOff := 288 + chunks.Len()
	chunks.Write(encodeStringPool(keyNames, false))
	for id := uint8(1); int(id) <= len(typeNames); id++ {
		var spec le
		spec.u8(id)
		spec.u8(0)
		spec.u16(0)
		spec.u32(uint32(entryCount[id]))
		var flags le
		for range entryCount[id] {
			flags.u32(0)
		}
		chunks.Write(chunk(chunkTableSpec, spec.Bytes(), flags.Bytes()))
		for _, k := range keys {
			if k.typeID == id {
				chunks.Write(encodeTypeChunk(id, entryCount[id], k.lang, k.density, groups[k], &global))
			}
		}
	}

	var pkg le
	pkg.u32(0x7f)
	name := []rune("com.example.demo")
	for i := range 128 {
		c := uint16(0)
		if i < len(name) {
			c = uint16(name[i])
		}
		pkg.u16(c)
	}
	pkg.u32(288) // typeStrings, from the package chunk start
	pkg.u32(uint32(len(typeNames)))
	pkg.u32(uint32(keyPoolOff))
	pkg.u32(uint32(len(keyNames)))
	pkg.u32(0) // typeIdOffset
	pkgChunk := chunk(chunkTablePackage, pkg.Bytes(), chunks.Bytes())

	var tableHdr le
	tableHdr.u32(1) // package count
	var body bytes.Buffer
	body.Write(encodeStringPool(global.strs, true))
	body.Write(pkgChunk)
	return chunk(chunkTable, tableHdr.Bytes(), body.Bytes())
}

func encodeTypeChunk(id uint8, count int, lang string, density uint16, vals []ResValue, global *stringTable) []byte {
	var hdr le
	hdr.u8(id)
	hdr.u8(0) // flags
	hdr.u16(0)
	hdr.u32(uint32(count))
	hdr.u32(uint32(20 + 64 + 4*count)) // entriesStart, from the chunk start
	cfg := make([]byte, 64)
	cfg[0] = 64
	copy(cfg[8:10], lang)
	cfg[14], cfg[15] = byte(density), byte(density>>8)
	hdr.Write(cfg)

	offsets := make([]uint32, count)
	for i := range offsets {
		offsets[i] = noRef
	}
	var entries le
	for _, v := range vals {
		offsets[v.Entry] = uint32(entries.Len())
		entries.u16(8) // entry size
		entries.u16(0) // flags
		entries.u32(uint32(v.Entry))
		entries.u16(8) // Res_value size
		entries.u8(0)
		if v.Ref != 0 {
			entries.u8(typeReference)
			entries.u32(v.Ref)
		} else {
			entries.u8(typeString)
			entries.u32(global.ref(v.Str))
		}
	}
	var body le
	for _, o := range offsets {
		body.u32(o)
	}
	body.Write(entries.Bytes())
	return chunk(chunkTableType, hdr.Bytes(), body.Bytes())
}
