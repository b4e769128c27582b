package bloblog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// FuzzDecodeChunk: decoding never panics, and what decodes is canonical
// (encodes back to the same bytes) and keeps the layout's promises. Each
// input is tried as it is and with a valid checksum appended, so that
// the fuzzer gets past the checksum.
func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk(&chunk{}))
	f.Add(encodeChunk(&chunk{start: 7, recs: buildlog.Index{{Offset: 7, UnixNano: 1}, {Offset: 9, UnixNano: -5}}, data: []byte("hello\nyou\n")}))
	f.Add(encodeChunk(&chunk{start: 1 << 40, recs: buildlog.Index{{Offset: 1 << 40, UnixNano: 1 << 62}}, data: []byte("x")}))
	f.Add([]byte("BBL1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkChunk(t, b)
		checkChunk(t, binary.LittleEndian.AppendUint32(slices.Clip(b), crc32.Checksum(b, castagnoli)))
	})
}

func checkChunk(t *testing.T, b []byte) {
	c, err := decodeChunk(b)
	if err != nil {
		return
	}
	if !bytes.Equal(encodeChunk(c), b) {
		t.Fatalf("%x decodes to %+v, which encodes differently", b, c)
	}
	if len(c.data) > 0 && (len(c.recs) == 0 || c.recs[0].Offset != c.start) {
		t.Fatalf("chunk of %d bytes from %d with records %v", len(c.data), c.start, c.recs)
	}
	for i, r := range c.recs {
		if r.Offset < c.start || r.Offset >= c.end() || i > 0 && r.Offset <= c.recs[i-1].Offset {
			t.Fatalf("record %d %+v out of order or range [%d, %d)", i, r, c.start, c.end())
		}
	}
	// Stamping any of it is safe.
	buildlog.Stamp(nil, c.data, c.start, c.recs)
}

func FuzzDecodeMarker(f *testing.F) {
	f.Add(encodeMarker(marker{chunks: 1, size: 0}))
	f.Add(encodeMarker(marker{chunks: 12, size: 1 << 33}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMarker(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeMarker(m), b) || m.chunks < 1 || m.size < 0 {
			t.Fatalf("%x decodes to %+v", b, m)
		}
	})
}

func FuzzParseChunkName(f *testing.F) {
	f.Add("0000000000-0")
	f.Add("0000000012-262144")
	f.Add("9999999999-9223372036854775807")
	f.Add("0000000001-01")
	f.Add("complete")
	f.Fuzz(func(t *testing.T, s string) {
		seq, start, ok := parseChunkName(s)
		if !ok {
			return
		}
		if seq < 0 || seq > maxSeq || start < 0 || chunkName(seq, start) != s {
			t.Fatalf("%q parses to %d, %d", s, seq, start)
		}
	})
}
