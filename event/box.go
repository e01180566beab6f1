package event

import "unsafe"

// Boxing a string or a slice into an interface (storing it in an Event)
// allocates its header on the heap, one small object per value: most of
// a decoded event's allocations. The decoder instead writes the headers
// of one event into shared chunks and makes interfaces that point into
// them, a chunk per many values.
//
// An interface holding a string or a slice is two words: the type and a
// pointer to the header. boxString and boxSlice build exactly that, the
// pointer being the address of a chunk element. It is sound because
// each element is written once, before its interface is made, and never
// again (an interface's value is immutable), and because an interior
// pointer keeps the chunk alive for as long as any of its interfaces
// lives.

// eface is the layout of an empty interface.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// boxString returns *p as an interface without copying the header: p
// must never be written again.
func boxString(p *string) any {
	var v any = ""
	(*eface)(unsafe.Pointer(&v)).data = unsafe.Pointer(p)
	return v
}

// boxSlice returns *p as an interface without copying the header: p must
// never be written again.
func boxSlice(p *[]any) any {
	var v any = []any(nil)
	(*eface)(unsafe.Pointer(&v)).data = unsafe.Pointer(p)
	return v
}

// boxes hands out chunk elements for the headers and array elements of
// one event. The first chunks come in one allocation sized for a typical
// event (the strings that are not known values; categories, types,
// related addresses and users); the next ones double.
type boxes struct {
	first  bool // the first chunks are taken
	strs   []string
	slices [][]any
	elems  []any
}

// firstChunks are the first chunks of an event, allocated together.
type firstChunks struct {
	strs   [12]string
	slices [4][]any
	elems  [8]any
}

// start takes the first chunks.
func (b *boxes) start() {
	c := new(firstChunks)
	b.first = true
	b.strs, b.slices, b.elems = c.strs[:0], c.slices[:0], c.elems[:0]
}

// str returns s as an interface, its header in the string chunk.
func (b *boxes) str(s string) any {
	if len(b.strs) == cap(b.strs) {
		if !b.first {
			b.start()
		} else {
			b.strs = make([]string, 0, 2*cap(b.strs))
		}
	}
	b.strs = append(b.strs, s)
	return boxString(&b.strs[len(b.strs)-1])
}

// slice returns s as an interface, its header in the slice chunk.
func (b *boxes) slice(s []any) any {
	if len(b.slices) == cap(b.slices) {
		if !b.first {
			b.start()
		} else {
			b.slices = make([][]any, 0, 2*cap(b.slices))
		}
	}
	b.slices = append(b.slices, s)
	return boxSlice(&b.slices[len(b.slices)-1])
}

// array copies the elements of a finished array into the element chunk,
// capped at its length, so appending to one array copies it instead of
// overwriting the next.
func (b *boxes) array(elems []any) []any {
	n := len(elems)
	if cap(b.elems)-len(b.elems) < n {
		if !b.first {
			b.start()
		}
		if cap(b.elems)-len(b.elems) < n {
			b.elems = make([]any, 0, max(2*cap(b.elems), n))
		}
	}
	start := len(b.elems)
	b.elems = append(b.elems, elems...)
	return b.elems[start:len(b.elems):len(b.elems)]
}
