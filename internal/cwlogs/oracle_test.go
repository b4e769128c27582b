package cwlogs

// The implementation of GetLogEvents before it read logs' indexes: each
// page read with stamps, parsed back, and a backward page read from the
// head. The tests check that the new one answers the same, and the
// benchmark compares them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
)

// oldEvents is what GetLogEvents answered for the stream s once the
// request was checked.
func oldEvents(a *API, ctx context.Context, s *stream, in *GetLogEventsInput, limit int, forward bool, pos int64, fromToken bool) (*GetLogEventsOutput, error) {
	var err error
	within := func(l line) bool {
		return (in.StartTime == nil || l.ms >= *in.StartTime) && (in.EndTime == nil || l.ms < *in.EndTime)
	}
	out := &GetLogEventsOutput{Events: []OutputLogEvent{}}
	if forward {
		start := max(pos, 0)
		events := []OutputLogEvent{}
		budget := pageBytes
		end := start
		err := oldScan(a, ctx, s.uuid, start, func(l line) bool {
			if in.EndTime != nil && l.ms >= *in.EndTime {
				return false
			}
			if len(events) == limit || len(events) > 0 && budget < len(l.text)+26 {
				return false // (a page always takes its first event, however long)
			}
			end = l.next
			if within(l) {
				events = append(events, OutputLogEvent{Timestamp: l.ms, Message: l.text, IngestionTime: l.ms})
				budget -= len(l.text) + 26
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		out.Events = events
		out.NextForwardToken, out.NextBackwardToken = position('f', s.name, end), position('b', s.name, start)
		if end == start && fromToken {
			out.NextForwardToken = *in.NextToken // the end: the token sent comes back
		}
		return out, nil
	}
	// Backward: the last page before pos (the end when there is no
	// token).
	type kept struct {
		ev    OutputLogEvent
		start int64
	}
	var ring []kept
	size := 0
	end := int64(0)
	err = oldScan(a, ctx, s.uuid, 0, func(l line) bool {
		if pos >= 0 && l.next > pos {
			return false
		}
		end = l.next
		if !within(l) {
			return true
		}
		ring = append(ring, kept{OutputLogEvent{Timestamp: l.ms, Message: l.text, IngestionTime: l.ms}, l.start})
		size += len(l.text) + 26
		for len(ring) > limit || len(ring) > 1 && size > pageBytes {
			size -= len(ring[0].ev.Message) + 26
			ring = ring[1:]
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if pos < 0 {
		pos = end
	}
	first := pos
	for _, k := range ring {
		out.Events = append(out.Events, k.ev)
	}
	if len(ring) > 0 {
		first = ring[0].start
	}
	out.NextForwardToken, out.NextBackwardToken = position('f', s.name, pos), position('b', s.name, first)
	if len(ring) == 0 && fromToken {
		out.NextBackwardToken = *in.NextToken // the start: the token sent comes back
	}
	return out, nil
}

// read returns the whole lines of a build's log from off (none at its end).
func oldRead(a *API, ctx context.Context, uuid string, off int64, size int) ([]line, error) {
	c, err := a.o.Logs.Read(ctx, uuid, off, size, 0, true)
	if errors.Is(err, buildlog.ErrNoLog) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []line
	data := c.Data
	pos := off
	stampLen := len(buildlog.StampFormat) + 1
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			end = len(data)
		} else {
			end++
		}
		seg := data[:end]
		data = data[end:]
		if len(seg) < stampLen {
			break
		}
		t, ok := parseStamp(seg[:stampLen-1])
		if !ok {
			return nil, fmt.Errorf("log %s: a line without its time at offset %d", uuid, pos)
		}
		text := string(seg[stampLen:])
		out = append(out, line{text: text, ms: t, start: pos, next: pos + int64(len(text))})
		pos += int64(len(text))
	}
	return out, nil
}

// scan calls f with the log's lines from off, in order, until f returns
// false or the lines written so far end.
func oldScan(a *API, ctx context.Context, uuid string, off int64, f func(line) bool) error {
	for {
		lines, err := oldRead(a, ctx, uuid, off, readSize)
		if err != nil || len(lines) == 0 {
			return err
		}
		for _, l := range lines {
			if !f(l) {
				return nil
			}
			off = l.next
		}
	}
}

// parseStamp reads a time in buildlog.StampFormat
// ("2006-01-02T15:04:05.000000Z") as milliseconds since the epoch, without
// time.Parse's generality: every line of a log has one.
func parseStamp(b []byte) (int64, bool) {
	if len(b) != len(buildlog.StampFormat) || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[26] != 'Z' {
		return 0, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	micro, ok7 := num(20, 26)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	return t.UnixMilli(), true
}
