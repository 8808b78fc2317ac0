package bundle

// matcher finds every occurrence of a fixed set of patterns in one pass
// over its input, whatever the number of patterns: an Aho-Corasick
// automaton, built once when the bundle starts and compiled to a dense
// transition table (a DFA), so each input byte costs one table look-up.
//
// Matching is ASCII case-insensitive: bytes are folded to lower case
// before they are classified. The secret forms it holds are long random
// tokens and their encodings, so folding costs no real precision, and it
// catches what a case-changing channel does to a secret (canonicalized
// header names, upper-cased host names, percent-escapes' hex digits).
//
// Input bytes are first mapped to classes: one per folded byte that
// occurs in some pattern and class 0 for every other byte, which keeps
// the table at states × classes rather than states × 256.
type matcher struct {
	class  [256]uint8
	nclass int
	next   []int32 // next[state*nclass+class] is the next state (while building)
	// trans is next as run reads it: each entry is the next state's row
	// offset (state*nclass), bit-inverted (negative) when some pattern
	// ends at that state, so the hot loop has one look-up, one test and
	// no multiplication.
	trans []int32
	out   [][]int32 // out[state]: the patterns ending here, suffixes too
	plen  []int     // plen[pattern]: its length in bytes
}

// foldByte is b in ASCII lower case.
func foldByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// newMatcher builds the automaton of pats. Patterns must be non-empty;
// the alphabet of all patterns together must stay under 256 folded bytes
// (it always does: one class is kept for "any other byte").
func newMatcher(pats [][]byte) *matcher {
	m := &matcher{}
	var classOf [256]uint8
	n := 1
	for _, p := range pats {
		for _, b := range p {
			f := foldByte(b)
			if classOf[f] == 0 && n < 256 {
				classOf[f] = uint8(n)
				n++
			}
		}
	}
	for b := 0; b < 256; b++ {
		m.class[b] = classOf[foldByte(byte(b))]
	}
	m.nclass = n
	nc := n

	// The trie. 0 in next means "no child": the root is nobody's child.
	m.next = make([]int32, nc)
	m.out = [][]int32{nil}
	for id, p := range pats {
		s := 0
		for _, b := range p {
			c := int(m.class[b])
			nx := m.next[s*nc+c]
			if nx == 0 {
				nx = int32(len(m.out))
				m.next = append(m.next, make([]int32, nc)...)
				m.out = append(m.out, nil)
				m.next[s*nc+c] = nx
			}
			s = int(nx)
		}
		m.out[s] = append(m.out[s], int32(id))
		m.plen = append(m.plen, len(p))
	}

	// Failure links, breadth first, folded into the table: a missing
	// transition takes the one of the state's failure state, which is
	// shallower and so already complete.
	fail := make([]int32, len(m.out))
	queue := make([]int32, 0, len(m.out))
	for c := 0; c < nc; c++ {
		if nx := m.next[c]; nx != 0 {
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := 0; c < nc; c++ {
			i := int(s)*nc + c
			nx := m.next[i]
			fs := m.next[int(fail[s])*nc+c]
			if nx == 0 {
				m.next[i] = fs
				continue
			}
			fail[nx] = fs
			m.out[nx] = append(m.out[nx], m.out[fs]...)
			queue = append(queue, nx)
		}
	}
	m.trans = make([]int32, len(m.next))
	for i, st := range m.next {
		off := st * int32(nc)
		if len(m.out[st]) > 0 {
			off = ^off
		}
		m.trans[i] = off
	}
	m.next = nil
	return m
}

// run feeds b through the automaton and calls hit with the end offset
// (exclusive) and pattern of every match, in order of their ends.
func (m *matcher) run(b []byte, hit func(end int, pat int32)) {
	if m == nil {
		return
	}
	off, nc := int32(0), int32(m.nclass)
	for i, x := range b {
		off = m.trans[off+int32(m.class[x])]
		if off < 0 {
			off = ^off
			for _, p := range m.out[off/nc] {
				hit(i+1, p)
			}
		}
	}
}
