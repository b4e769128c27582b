package bloblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// The objects of a log, under <prefix>/<name>/:
//
//	<seq>-<start>   a chunk: seq is its number (10 digits, from 0000000000,
//	                so keys sort in order), start the offset in the log of
//	                its first byte (decimal, no leading zeros); each starts
//	                where the one before it ends.
//	complete        the completion marker, written once every chunk is.
//
// A chunk (all integers little-endian):
//
//	"BBL1"                      magic
//	start    uint64             offset of its first byte in the log
//	nrec     uint32             number of records
//	records  nrec × 16 bytes    (offset uint64, Unix nanoseconds int64),
//	                            offsets absolute, strictly increasing, in
//	                            [start, start+ndata); the first at start
//	ndata    uint32             number of bytes
//	data     ndata bytes
//	crc      uint32             CRC-32C (Castagnoli) of all that precedes
//
// An empty chunk (no data, no records) is chunk 0 of a log created but
// not written to yet: it makes the log exist.
//
// The completion marker:
//
//	"BBLE" chunks uint64 size uint64 crc uint32
//
// chunks is the number of chunks of the log, size its length in bytes.

const (
	chunkMagic  = "BBL1"
	markerMagic = "BBLE"
	markerName  = "complete"
	seqDigits   = 10
	// maxChunkData bounds a chunk's data (and FlushBytes).
	maxChunkData = 64 << 20
	chunkHeader  = 4 + 8 + 4
	markerLen    = 4 + 8 + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunk is a decoded chunk object.
type chunk struct {
	start int64
	recs  buildlog.Index
	data  []byte
}

func (c *chunk) end() int64 { return c.start + int64(len(c.data)) }

// encodeChunk renders c as a chunk object.
func encodeChunk(c *chunk) []byte {
	head, sum := chunkHead(c)
	b := append(head, c.data...)
	return binary.LittleEndian.AppendUint32(b, sum)
}

// chunkHead renders what precedes c's data in its object, and returns the
// checksum that follows it.
func chunkHead(c *chunk) (head []byte, sum uint32) {
	b := make([]byte, 0, chunkHeader+16*len(c.recs)+4)
	b = append(b, chunkMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(c.start))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.recs)))
	for _, r := range c.recs {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Offset))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.UnixNano))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(c.data)))
	return b, crc32.Update(crc32.Checksum(b, castagnoli), castagnoli, c.data)
}

var errCorrupt = errors.New("corrupt log chunk")

// decodeChunk parses a chunk object, checking everything the layout
// promises. The chunk's data is b's.
func decodeChunk(b []byte) (*chunk, error) {
	if len(b) < chunkHeader+4+4 || string(b[:4]) != chunkMagic {
		return nil, fmt.Errorf("%w: no header", errCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	start := binary.LittleEndian.Uint64(body[4:])
	nrec := uint64(binary.LittleEndian.Uint32(body[12:]))
	rest := body[chunkHeader:]
	if nrec > uint64(len(rest))/16 || uint64(len(rest))-16*nrec < 4 {
		return nil, fmt.Errorf("%w: %d records do not fit", errCorrupt, nrec)
	}
	recBytes := rest[:16*nrec]
	rest = rest[16*nrec:]
	ndata := uint64(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if ndata != uint64(len(rest)) || ndata > maxChunkData {
		return nil, fmt.Errorf("%w: %d bytes of data, %d there", errCorrupt, ndata, len(rest))
	}
	if start > math.MaxInt64-ndata {
		return nil, fmt.Errorf("%w: offset %d out of range", errCorrupt, start)
	}
	c := &chunk{start: int64(start), data: rest[:ndata:ndata]}
	if (nrec == 0) != (ndata == 0) {
		return nil, fmt.Errorf("%w: %d records for %d bytes", errCorrupt, nrec, ndata)
	}
	if nrec > 0 {
		c.recs = make(buildlog.Index, nrec)
	}
	prev := int64(-1)
	for i := range c.recs {
		off := binary.LittleEndian.Uint64(recBytes[16*i:])
		if off < start || off >= start+ndata || int64(off) <= prev || i == 0 && off != start {
			return nil, fmt.Errorf("%w: record %d at offset %d", errCorrupt, i, off)
		}
		prev = int64(off)
		c.recs[i] = buildlog.Record{Offset: int64(off), UnixNano: int64(binary.LittleEndian.Uint64(recBytes[16*i+8:]))}
	}
	return c, nil
}

// marker is a decoded completion marker.
type marker struct {
	chunks int64
	size   int64
}

func encodeMarker(m marker) []byte {
	b := make([]byte, 0, markerLen)
	b = append(b, markerMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.chunks))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.size))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeMarker(b []byte) (marker, error) {
	if len(b) != markerLen || string(b[:4]) != markerMagic {
		return marker{}, fmt.Errorf("%w: bad completion marker", errCorrupt)
	}
	if crc32.Checksum(b[:markerLen-4], castagnoli) != binary.LittleEndian.Uint32(b[markerLen-4:]) {
		return marker{}, fmt.Errorf("%w: completion marker checksum mismatch", errCorrupt)
	}
	m := marker{int64(binary.LittleEndian.Uint64(b[4:])), int64(binary.LittleEndian.Uint64(b[12:]))}
	if m.chunks < 1 || m.size < 0 || m.chunks > maxSeq+1 {
		return marker{}, fmt.Errorf("%w: completion marker of %d chunks, %d bytes", errCorrupt, m.chunks, m.size)
	}
	return m, nil
}

// maxSeq is the largest chunk number that fits its digits.
const maxSeq = 9_999_999_999

// chunkName is the name of a chunk object within its log's folder.
func chunkName(seq, start int64) string {
	b := make([]byte, 0, seqDigits+1+20)
	b = fmt.Appendf(b, "%0*d-", seqDigits, seq)
	return string(strconv.AppendInt(b, start, 10))
}

// parseChunkName parses chunkName's output, refusing anything it would
// not have written.
func parseChunkName(s string) (seq, start int64, ok bool) {
	if len(s) < seqDigits+2 || s[seqDigits] != '-' {
		return 0, 0, false
	}
	for i := 0; i < seqDigits; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
		seq = 10*seq + int64(s[i]-'0')
	}
	digits := s[seqDigits+1:]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, 0, false
		}
	}
	start, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return seq, start, true
}
