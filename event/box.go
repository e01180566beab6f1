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

// boxInt64 returns *p as an interface without copying it: p must never
// be written again.
func boxInt64(p *int64) any {
	var v any = int64(0)
	(*eface)(unsafe.Pointer(&v)).data = unsafe.Pointer(p)
	return v
}

// boxes hands out chunk elements for the headers and array elements of
// one event, and for its integers. The first chunks come in one
// allocation sized for a typical event (the strings that are not known
// values; categories, types, related addresses and users; ports, offsets,
// pids); the next ones double.
type boxes struct {
	first  bool // the first chunks are taken
	strs   []string
	slices [][]any
	elems  []any
	ints   []int64
}

// firstChunks are the first chunks of an event, allocated together.
type firstChunks struct {
	strs   [12]string
	slices [4][]any
	elems  [8]any
	ints   [4]int64
}

// start takes the first chunks.
func (b *boxes) start() { b.take(new(firstChunks)) }

// take makes c the current chunks.
func (b *boxes) take(c *firstChunks) {
	b.first = true
	b.strs, b.slices, b.elems, b.ints = c.strs[:0], c.slices[:0], c.elems[:0], c.ints[:0]
}

// int returns v as an interface, in the integer chunk unless the runtime
// boxes it without allocating (0 to 255).
func (b *boxes) int(v int64) any {
	if uint64(v) < 256 {
		return v
	}
	if len(b.ints) == cap(b.ints) {
		if !b.first {
			b.start()
		} else {
			b.ints = make([]int64, 0, 2*cap(b.ints))
		}
	}
	b.ints = append(b.ints, v)
	return boxInt64(&b.ints[len(b.ints)-1])
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

// singleton is a one-element array and its slice header, allocated
// together.
type singleton struct {
	elem [1]any
	s    []any
}

// Singleton returns []any{v} as an interface in one allocation instead of
// two (the array, and the header when it is boxed): for parsers that set
// one-element ECS arrays (related.ip). Appending to it copies it.
func Singleton(v any) any {
	c := &singleton{elem: [1]any{v}}
	c.s = c.elem[:1:1]
	return boxSlice(&c.s)
}

// singletons is two strings, two one-element arrays holding them and
// their slice headers, allocated together.
type singletons struct {
	strs  [2]string
	elems [2]any
	s     [2][]any
}

// Singletons returns []any{a} and []any{b} as interfaces in one
// allocation instead of six (the strings boxed, the arrays, the headers
// boxed): for parsers that set event.category and event.type. Appending
// to either copies it.
func Singletons(a, b string) (any, any) {
	c := &singletons{strs: [2]string{a, b}}
	c.elems[0], c.elems[1] = boxString(&c.strs[0]), boxString(&c.strs[1])
	c.s[0], c.s[1] = c.elems[0:1:1], c.elems[1:2:2]
	return boxSlice(&c.s[0]), boxSlice(&c.s[1])
}

// Boxes makes the interface values of one event's fields (strings,
// integers, one-element arrays) in shared chunks: a parser that boxes
// its values here pays one allocation for the first dozen or so instead
// of one per value. The zero value is ready to use; take a new one for
// each event, since values handed out stay alive as long as any of the
// values sharing their chunk. A nil *Boxes boxes as the runtime does.
type Boxes struct{ b boxes }

// lineChunks are the first chunks of Boxes, sized for the values a
// parser of one log line boxes (its id, the line, the message, a user,
// an address, a method; categories, types and related values; a port):
// unused room is memory every event carries.
type lineChunks struct {
	strs   [6]string
	slices [4][]any
	elems  [4]any
	ints   [2]int64
}

// begin takes the first chunks when none are taken yet.
func (x *Boxes) begin() {
	if !x.b.first {
		c := new(lineChunks)
		x.b.first = true
		x.b.strs, x.b.slices, x.b.elems, x.b.ints = c.strs[:0], c.slices[:0], c.elems[:0], c.ints[:0]
	}
}

// String returns s as an interface value.
func (x *Boxes) String(s string) any {
	if x == nil || s == "" {
		return s
	}
	x.begin()
	return x.b.str(s)
}

// Int returns v as an interface value.
func (x *Boxes) Int(v int64) any {
	if x == nil || uint64(v) < 256 {
		return v
	}
	x.begin()
	return x.b.int(v)
}

// Singleton returns []any{v} as an interface value; appending to the
// array copies it.
func (x *Boxes) Singleton(v any) any {
	if x == nil {
		return Singleton(v)
	}
	x.begin()
	return x.b.slice(x.b.array([]any{v}))
}

// Singletons returns []any{a} and []any{b} as interface values;
// appending to either array copies it.
func (x *Boxes) Singletons(a, b any) (any, any) {
	if x == nil {
		return Singleton(a), Singleton(b)
	}
	x.begin()
	ab := x.b.array([]any{a, b})
	return x.b.slice(ab[0:1:1]), x.b.slice(ab[1:2:2])
}
