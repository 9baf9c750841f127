package artifact

// noRef is the "no string" reference in binary XML.
const noRef = 0xffffffff

// attrLen is the size of one ResXMLTree_attribute: ns, name, rawValue, Res_value.
const attrLen = 20

// element is a start-element chunk: its name, and its attributes, read on demand so that
// elements Inspect ignores cost only their name.
type element struct {
	name   string
	attrs  []byte // count attributes of size stride each
	count  int
	stride int
	pool   *stringPool
	resMap []byte
}

// parseElement reads the name and locates the attributes of a start-element chunk.
func parseElement(c chunk, pool *stringPool, resMap []byte) (element, error) {
	body := c.data[len(c.header):] // ResXMLTree_attrExt, then the attributes
	nameRef, ok1 := u32(body, 4)
	start, ok2 := u16(body, 8)
	stride, ok3 := u16(body, 10)
	count, ok4 := u16(body, 12)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return element{}, errMalformed
	}
	name, ok := pool.get(nameRef)
	if !ok {
		return element{}, errMalformed
	}
	end := int(start) + int(count)*int(stride)
	if count > 0 && (stride < attrLen || end > len(body)) {
		return element{}, errMalformed
	}
	return element{name: name, attrs: body[min(int(start), len(body)):min(end, len(body))],
		count: int(count), stride: int(stride), pool: pool, resMap: resMap}, nil
}

// android returns the android:* attribute with resource id id. Compiled manifests identify
// attributes by resource id through the resource map, as Android does; an attribute with no
// id is matched by namespace and name instead.
func (e element) android(id uint32, name string) value {
	for i := range e.count {
		a := e.attrs[i*e.stride:]
		nameRef, _ := u32(a, 4)
		if resID, ok := u32(e.resMap, int(nameRef)*4); ok && resID != 0 {
			if resID == id {
				return e.value(a)
			}
			continue
		}
		nsRef, _ := u32(a, 0)
		ns, okNS := e.pool.get(nsRef)
		n, okName := e.pool.get(nameRef)
		if okNS && okName && ns == androidNS && n == name {
			return e.value(a)
		}
	}
	return value{}
}

// plain returns the attribute without namespace called name ("package").
func (e element) plain(name string) value {
	for i := range e.count {
		a := e.attrs[i*e.stride:]
		nsRef, _ := u32(a, 0)
		nameRef, _ := u32(a, 4)
		if n, ok := e.pool.get(nameRef); ok && nsRef == noRef && n == name {
			return e.value(a)
		}
	}
	return value{}
}

// value decodes attribute a: its raw string if present, and its typed value.
func (e element) value(a []byte) value {
	raw, _ := u32(a, 8)
	v := value{present: true, typ: a[15]}
	v.data, _ = u32(a, 16)
	if raw != noRef {
		v.str, v.hasStr = e.pool.get(raw)
	} else if v.typ == typeString {
		v.str, v.hasStr = e.pool.get(v.data)
	}
	return v
}
