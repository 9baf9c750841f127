package artifact

// resources.arsc is a table chunk holding a global string pool (the values of string
// resources) and package chunks; each package holds type chunks, one per resource type and
// configuration (mipmap at xxxhdpi, string in zh-CN, ...), listing entries by index.

// maxPackages bounds the packages remembered: apps have one (0x7f), a few shared libraries at
// most.
const maxPackages = 16

// Flags of ResTable_type and ResTable_entry.
const (
	typeFlagSparse   = 0x01
	typeFlagOffset16 = 0x02
	entryFlagComplex = 0x0001
	entryFlagCompact = 0x0008
)

// resTable is a parsed resources.arsc. Type chunks are not indexed: lookups walk them, since
// a hostile table can hold millions of tiny chunks and Inspect makes only a few lookups.
type resTable struct {
	strings  *stringPool
	packages map[uint32]chunk
}

// config is the part of a ResTable_config that Inspect looks at.
type config struct {
	language, country, density uint16
}

// parseTable reads the table's structure, checking every chunk's bounds down to the type
// chunks, so that lookups can trust the chunk tree.
func parseTable(b []byte) (*resTable, error) {
	root, err := readChunk(b)
	if err != nil || root.typ != chunkTable {
		return nil, errMalformed
	}
	t := &resTable{packages: map[uint32]chunk{}}
	err = root.children(func(c chunk) error {
		switch c.typ {
		case chunkStringPool:
			if t.strings == nil {
				p, err := parseStringPool(c)
				t.strings = p
				return err
			}
		case chunkTablePackage:
			id, ok := u32(c.header, 8)
			if !ok {
				return errMalformed
			}
			if err := c.children(func(chunk) error { return nil }); err != nil {
				return err
			}
			if _, dup := t.packages[id]; !dup && len(t.packages) < maxPackages {
				t.packages[id] = c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// lookup calls fn with every simple value of resource id (0xPPTTEEEE), one per configuration,
// in file order. Complex values (styles, arrays) are skipped.
func (t *resTable) lookup(id uint32, fn func(config, value)) {
	pkg, ok := t.packages[id>>24]
	typeID, entry := uint8(id>>16), id&0xffff
	if !ok || typeID == 0 {
		return
	}
	_ = pkg.children(func(c chunk) error {
		if c.typ == chunkTableType && len(c.header) >= 20 && c.header[8] == typeID {
			if cfg, v, ok := typeEntry(c, entry); ok {
				if v.typ == typeString {
					v.str, v.hasStr = t.strings.get(v.data)
				}
				fn(cfg, v)
			}
		}
		return nil
	})
}

// typeEntry returns the value of entry in type chunk c, if c has one.
func typeEntry(c chunk, entry uint32) (config, value, bool) {
	h, body := c.header, c.data
	flags := h[9]
	count, _ := u32(h, 12)
	entriesStart, _ := u32(h, 16)
	index := len(h) // the entry offsets follow the header
	off := int64(-1)
	switch {
	case flags&typeFlagSparse != 0: // sorted {uint16 index, uint16 offset/4} pairs
		for i := int64(0); i < int64(count); i++ {
			idx, ok := u16(body, index+int(4*i))
			if !ok || uint32(idx) > entry {
				break
			}
			if uint32(idx) == entry {
				o, _ := u16(body, index+int(4*i)+2)
				off = int64(o) * 4
				break
			}
		}
	case flags&typeFlagOffset16 != 0:
		if o, ok := u16(body, index+2*int(entry)); ok && entry < count && o != 0xffff {
			off = int64(o) * 4
		}
	default:
		if o, ok := u32(body, index+4*int(entry)); ok && entry < count && o != noRef {
			off = int64(o)
		}
	}
	pos := int64(entriesStart) + off
	if off < 0 || pos >= int64(len(body)) {
		return config{}, value{}, false
	}
	e := body[pos:]
	size, ok1 := u16(e, 0)
	eflags, ok2 := u16(e, 2)
	if !ok1 || !ok2 {
		return config{}, value{}, false
	}
	v := value{present: true}
	switch {
	case eflags&entryFlagCompact != 0: // {uint16 key, uint16 flags|type<<8, uint32 data}
		v.typ = uint8(eflags >> 8)
		v.data, ok1 = u32(e, 4)
	case eflags&entryFlagComplex != 0:
		return config{}, value{}, false
	default: // ResTable_entry of size bytes, then a Res_value {size, res0, type, data}
		if size < 8 || int(size)+8 > len(e) {
			return config{}, value{}, false
		}
		v.typ = e[int(size)+3]
		v.data, ok1 = u32(e, int(size)+4)
	}
	return readConfig(h[20:]), v, ok1
}

// readConfig reads a ResTable_config, which starts with its own size; fields past that size,
// or past the header, are zero (the default).
func readConfig(b []byte) config {
	size, _ := u32(b, 0)
	b = b[:min(int64(size), int64(len(b)))]
	language, _ := u16(b, 8)
	country, _ := u16(b, 10)
	density, _ := u16(b, 14)
	return config{language: language, country: country, density: density}
}
