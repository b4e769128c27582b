package cwlogs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	"github.com/buildbatch/buildbatch/internal/ident"
)

// DescribeLogGroupsInput is the request of DescribeLogGroups.
type DescribeLogGroupsInput struct {
	LogGroupNamePrefix  *string  `json:"logGroupNamePrefix"`
	LogGroupNamePattern *string  `json:"logGroupNamePattern"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int32   `json:"limit"`
}

// LogGroup is one log group.
type LogGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	MetricFilterCount *int   `json:"metricFilterCount,omitempty"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn,omitempty"`
	StoredBytes       *int64 `json:"storedBytes,omitempty"`
	LogGroupClass     string `json:"logGroupClass,omitempty"`
}

// DescribeLogGroupsOutput is the answer of DescribeLogGroups.
type DescribeLogGroupsOutput struct {
	LogGroups []LogGroup `json:"logGroups"`
	NextToken *string    `json:"nextToken,omitempty"`
}

// DescribeLogGroups lists the log groups of the caller's projects, by
// name.
func (a *API) DescribeLogGroups(ctx context.Context, in *DescribeLogGroupsInput) (*DescribeLogGroupsOutput, error) {
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	limit, err := limitOf(in.Limit, 50, 50, "limit")
	if err != nil {
		return nil, err
	}
	all, err := a.groups(ctx, scopeOf(ctx))
	if err != nil {
		return nil, err
	}
	scope := scopeOf(ctx)
	var names []string
	for n := range all {
		switch {
		case in.LogGroupNamePrefix != nil && !strings.HasPrefix(n, *in.LogGroupNamePrefix),
			in.LogGroupNamePattern != nil && !strings.Contains(n, *in.LogGroupNamePattern),
			len(in.LogGroupIdentifiers) > 0 && !slices.ContainsFunc(in.LogGroupIdentifiers, func(id string) bool {
				name, _ := groupName(nil, &id)
				return name == n
			}):
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if in.NextToken != nil {
		after, err := decodeToken[string](*in.NextToken, "g")
		if err != nil {
			return nil, err
		}
		names = names[sort.SearchStrings(names, after+"\x00"):]
	}
	out := &DescribeLogGroupsOutput{LogGroups: []LogGroup{}}
	for i, n := range names {
		if i == limit {
			out.NextToken = encodeToken("g", names[i-1])
			break
		}
		g := all[n]
		lg := LogGroup{LogGroupName: n, CreationTime: ms(g.created), Arn: groupARN(scope, n) + ":*"}
		if in.LogGroupNamePattern == nil { // the pattern form answers only name, time and ARN
			zero, stored := 0, int64(0)
			lg.MetricFilterCount, lg.StoredBytes, lg.LogGroupArn, lg.LogGroupClass = &zero, &stored, groupARN(scope, n), "STANDARD"
		}
		out.LogGroups = append(out.LogGroups, lg)
	}
	return out, nil
}

// DescribeLogStreamsInput is the request of DescribeLogStreams.
type DescribeLogStreamsInput struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          bool    `json:"descending"`
	NextToken           *string `json:"nextToken"`
	Limit               *int32  `json:"limit"`
}

// LogStream is one log stream.
type LogStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

// DescribeLogStreamsOutput is the answer of DescribeLogStreams.
type DescribeLogStreamsOutput struct {
	LogStreams []LogStream `json:"logStreams"`
	NextToken  *string     `json:"nextToken,omitempty"`
}

// DescribeLogStreams lists a group's streams: its builds' logs.
func (a *API) DescribeLogStreams(ctx context.Context, in *DescribeLogStreamsInput) (*DescribeLogStreamsOutput, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := limitOf(in.Limit, 50, 50, "limit")
	if err != nil {
		return nil, err
	}
	byTime := false
	switch o := derefOr(in.OrderBy, "LogStreamName"); o {
	case "LogStreamName":
	case "LastEventTime":
		if in.LogStreamNamePrefix != nil {
			return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		byTime = true
	default:
		return nil, invalid("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LastEventTime, LogStreamName]", o)
	}
	g, err := a.group(ctx, name)
	if err != nil {
		return nil, err
	}
	all, err := a.streams(ctx, g)
	if err != nil {
		return nil, err
	}
	var list []*stream
	for _, s := range all {
		if in.LogStreamNamePrefix == nil || strings.HasPrefix(s.name, *in.LogStreamNamePrefix) {
			list = append(list, s)
		}
	}
	// Pages go on after the last stream sent, by its sort key (not its
	// place in the list: a build that starts or ends between two pages
	// would shift it).
	key := func(s *stream) streamKey {
		k := streamKey{N: s.name}
		if byTime {
			k.T = ms(s.lastEvent())
		}
		return k
	}
	slices.SortStableFunc(list, func(x, y *stream) int { return key(x).compare(key(y)) })
	if in.Descending {
		slices.Reverse(list)
	}
	from := 0
	if in.NextToken != nil {
		after, err := decodeToken[streamKey](*in.NextToken, "s")
		if err != nil {
			return nil, err
		}
		for from < len(list) && (!in.Descending && key(list[from]).compare(after) <= 0 || in.Descending && key(list[from]).compare(after) >= 0) {
			from++
		}
	}
	scope := scopeOf(ctx)
	out := &DescribeLogStreamsOutput{LogStreams: []LogStream{}}
	for i := from; i < len(list); i++ {
		if i-from == limit {
			out.NextToken = encodeToken("s", key(list[i-1]))
			break
		}
		s := list[i]
		last := s.lastEvent()
		out.LogStreams = append(out.LogStreams, LogStream{LogStreamName: s.name, CreationTime: ms(s.start), FirstEventTimestamp: ms(s.start),
			LastEventTimestamp: ms(last), LastIngestionTime: ms(last),
			Arn: ident.ARN("logs", scope.Region, scope.Account, "log-group:"+g.name+":log-stream:"+s.name)})
	}
	return out, nil
}

// streamKey orders streams: by their last event's time (0 when ordered
// by name), then by name.
type streamKey struct {
	T int64  `json:"t"`
	N string `json:"n"`
}

func (k streamKey) compare(o streamKey) int {
	if k.T != o.T {
		return cmp.Compare(k.T, o.T)
	}
	return strings.Compare(k.N, o.N)
}

// GetLogEventsInput is the request of GetLogEvents.
type GetLogEventsInput struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	NextToken          *string `json:"nextToken"`
	Limit              *int32  `json:"limit"`
	StartFromHead      *bool   `json:"startFromHead"`
	Unmask             bool    `json:"unmask"`
}

// OutputLogEvent is one event of GetLogEvents.
type OutputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// GetLogEventsOutput is the answer of GetLogEvents.
type GetLogEventsOutput struct {
	Events            []OutputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// pageBytes is the most a page holds: its messages' UTF-8 bytes plus 26
// per event, as CloudWatch Logs counts.
const pageBytes = 1 << 20

// GetLogEvents reads a stream forward (startFromHead, or a forward
// token) or backward (the default: the last page) from a position.
func (a *API) GetLogEvents(ctx context.Context, in *GetLogEventsInput) (*GetLogEventsOutput, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == nil || *in.LogStreamName == "" {
		return nil, invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	limit, err := limitOf(in.Limit, 10000, 10000, "limit")
	if err != nil {
		return nil, err
	}
	forward := in.StartFromHead != nil && *in.StartFromHead
	pos, fromToken := int64(-1), false
	if in.NextToken != nil {
		dir, tokStream, p, ok := parsePosition(*in.NextToken)
		if !ok || tokStream != streamHash(*in.LogStreamName) {
			return nil, invalid("The specified nextToken is invalid.")
		}
		forward, pos, fromToken = dir == 'f', p, true
	}
	g, err := a.group(ctx, name)
	if err != nil {
		return nil, err
	}
	s, err := a.stream(ctx, g, *in.LogStreamName)
	if err != nil {
		return nil, err
	}
	return a.events(ctx, s, in, limit, forward, pos, fromToken)
}

// events answers GetLogEvents for the stream s: forward from pos (0 if
// < 0) or backward from it (the end if < 0); fromToken says that pos came
// from in.NextToken.
func (a *API) events(ctx context.Context, s *stream, in *GetLogEventsInput, limit int, forward bool, pos int64, fromToken bool) (*GetLogEventsOutput, error) {
	within := func(l line) bool {
		return (in.StartTime == nil || l.ms >= *in.StartTime) && (in.EndTime == nil || l.ms < *in.EndTime)
	}
	out := &GetLogEventsOutput{Events: []OutputLogEvent{}}
	if forward {
		start := max(pos, 0)
		events := make([]OutputLogEvent, 0, min(limit, 1024))
		budget := pageBytes
		end := start
		err := a.scan(ctx, s.uuid, start, func(l line) bool {
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
	// token), the longest run of events before it that a page holds. It
	// is read from a line start some way back, which gives the same lines
	// as reading from the head (a line longer than a read comes in
	// pieces counted from its start); while the events found there leave
	// room for more, from further back (to the head at worst: when few
	// lines are within the times asked).
	type kept struct {
		ev    OutputLogEvent
		start int64
	}
	var ring []kept
	size := 0
	end := int64(0)
	to := pos
	if to < 0 {
		var err error
		if to, err = a.logEnd(ctx, s.uuid); err != nil {
			return nil, err
		}
	}
	for back := backReach; ; back *= 4 {
		from, err := a.lineStart(ctx, s.uuid, to-back)
		if err != nil {
			return nil, err
		}
		ring, size, end = ring[:0], 0, from
		dropped := false
		err = a.scan(ctx, s.uuid, from, func(l line) bool {
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
				dropped = true
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		// An event before from would not fit with these.
		if from == 0 || dropped || len(ring) == limit || size+26 > pageBytes {
			break
		}
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

// FilterLogEventsInput is the request of FilterLogEvents.
type FilterLogEventsInput struct {
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int32   `json:"limit"`
	Interleaved         *bool    `json:"interleaved"`
	Unmask              bool     `json:"unmask"`
}

// FilteredLogEvent is one event of FilterLogEvents.
type FilteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// FilterLogEventsOutput is the answer of FilterLogEvents.
type FilterLogEventsOutput struct {
	Events             []FilteredLogEvent `json:"events"`
	SearchedLogStreams []struct{}         `json:"searchedLogStreams"`
	NextToken          *string            `json:"nextToken,omitempty"`
}

// filterToken is where a FilterLogEvents listing goes on: the offset of
// the next line of each stream read, and the request it continues.
type filterToken struct {
	Filter  uint64           `json:"h"`
	Offsets map[string]int64 `json:"o"`
}

// FilterLogEvents reads the events of a group's streams that match a
// pattern, merged in time order (then stream name, then position). A
// page ends at limit events or 1 MB; nextToken is absent once every
// matching event so far was returned (a follower, like aws logs tail,
// asks again later from its newest timestamp).
func (a *API) FilterLogEvents(ctx context.Context, in *FilterLogEventsInput) (*FilterLogEventsOutput, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != nil {
		return nil, invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalid("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	limit, err := limitOf(in.Limit, 10000, 10000, "limit")
	if err != nil {
		return nil, err
	}
	pat, err := parsePattern(derefOr(in.FilterPattern, ""))
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	json.NewEncoder(h).Encode([]any{name, in.LogStreamNames, in.LogStreamNamePrefix, in.StartTime, in.EndTime, in.FilterPattern})
	tok := filterToken{Filter: h.Sum64(), Offsets: map[string]int64{}}
	if in.NextToken != nil {
		t, err := decodeToken[filterToken](*in.NextToken, "e")
		if err != nil || t.Filter != tok.Filter {
			return nil, invalid("The specified nextToken is invalid.")
		}
		tok.Offsets = t.Offsets
	}
	g, err := a.group(ctx, name)
	if err != nil {
		return nil, err
	}
	all, err := a.streams(ctx, g)
	if err != nil {
		return nil, err
	}
	var cursors []*cursor
	for _, s := range all {
		switch {
		case len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, s.name),
			in.LogStreamNamePrefix != nil && !strings.HasPrefix(s.name, *in.LogStreamNamePrefix),
			in.StartTime != nil && !s.end.IsZero() && ms(s.end) < *in.StartTime,
			in.EndTime != nil && ms(s.start) > *in.EndTime:
			continue
		}
		cursors = append(cursors, &cursor{a: a, ctx: ctx, s: s, off: tok.Offsets[s.name]})
	}
	out := &FilterLogEventsOutput{Events: []FilteredLogEvent{}, SearchedLogStreams: []struct{}{}}
	budget := pageBytes
	for {
		// The cursor whose next event comes first.
		var best *cursor
		for _, c := range cursors {
			if err := c.fill(); err != nil {
				return nil, err
			}
			if len(c.buf) == 0 {
				continue
			}
			if best == nil || c.buf[0].ms < best.buf[0].ms || c.buf[0].ms == best.buf[0].ms && c.s.name < best.s.name {
				best = c
			}
		}
		if best == nil {
			break // every stream is read to its end (for now)
		}
		l := best.buf[0]
		if in.EndTime != nil && l.ms > *in.EndTime {
			best.done, best.buf = true, nil // its later lines are later still
			continue
		}
		match := (in.StartTime == nil || l.ms >= *in.StartTime) && pat.match(l.text)
		if match && (len(out.Events) == limit || len(out.Events) > 0 && budget < len(l.text)+26) {
			out.NextToken = a.token(tok, cursors)
			return out, nil
		}
		best.buf = best.buf[1:]
		best.off = l.next
		if match {
			out.Events = append(out.Events, FilteredLogEvent{LogStreamName: best.s.name, Timestamp: l.ms, Message: l.text, IngestionTime: l.ms,
				EventID: eventID(best.s.name, l)})
			budget -= len(l.text) + 26
		}
	}
	return out, nil
}

func (a *API) token(t filterToken, cursors []*cursor) *string {
	t.Offsets = map[string]int64{}
	for _, c := range cursors {
		if c.off > 0 {
			t.Offsets[c.s.name] = c.off
		}
	}
	return encodeToken("e", t)
}

// eventID is an event's id: decimal digits, the same on every call, unique
// in the group (time, stream, position).
func eventID(stream string, l line) string {
	h := fnv.New32a()
	h.Write([]byte(stream))
	return strconv.FormatInt(l.ms, 10) + leftPad(strconv.FormatUint(uint64(h.Sum32()), 10), 10) + leftPad(strconv.FormatInt(l.start, 10), 20)
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// cursor reads one stream's lines as FilterLogEvents merges them.
type cursor struct {
	a    *API
	ctx  context.Context
	s    *stream
	off  int64
	buf  []line
	done bool
}

// fill reads the next lines once the buffer is empty.
func (c *cursor) fill() error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	lines, err := c.a.read(c.ctx, c.s.uuid, c.off, mergeReadSize)
	if err != nil {
		return err
	}
	c.buf = lines
	if len(lines) == 0 {
		c.done = true
	}
	return nil
}

// line is one line of a log: its text (with its newline), when it
// arrived, and where it starts and the next one does.
type line struct {
	text        string
	ms          int64
	start, next int64
}

// readSize is how much of a log GetLogEvents reads at a time: a page's
// worth. FilterLogEvents, which holds a read of every stream it merges,
// reads less (memory: streams × mergeReadSize).
const (
	readSize      = 1 << 20
	mergeReadSize = 64 << 10
)

// lines is one read of a log, handed out line by line: a line longer
// than the read comes in pieces, each with the time of its first byte.
type lines struct {
	text  string // whole lines, from start in the log
	start int64
	pos   int // in text, of the next line
	x     buildlog.Index
	rec   int // the record of the last line handed out (-1: none yet)
}

// readLines reads the whole lines of a build's log from off, up to size
// bytes (none at its end), and the index of their times: the bytes as one
// string, which the lines' texts share.
func (a *API) readLines(ctx context.Context, uuid string, off int64, size int) (*lines, error) {
	c, x, err := buildlog.ReadIndexed(ctx, a.o.Logs, uuid, off, size)
	if errors.Is(err, buildlog.ErrNoLog) {
		return &lines{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &lines{text: string(c.Data), start: c.NextOffset - int64(len(c.Data)), x: x, rec: -1}, nil
}

// noTime is the time of a line that has no record, as a stamp showed it
// (time.Time{}).
var noTime = time.Time{}.UnixMilli()

// next returns the next line, if there is one.
func (r *lines) next() (line, bool) {
	if r.pos == len(r.text) {
		return line{}, false
	}
	n := strings.IndexByte(r.text[r.pos:], '\n') + 1
	if n == 0 {
		n = len(r.text) - r.pos
	}
	start := r.start + int64(r.pos)
	for r.rec+1 < len(r.x) && r.x[r.rec+1].Offset <= start {
		r.rec++
	}
	ms := noTime
	if r.rec >= 0 {
		ms = time.Unix(0, r.x[r.rec].UnixNano).UnixMilli()
	}
	l := line{text: r.text[r.pos : r.pos+n], ms: ms, start: start, next: start + int64(n)}
	r.pos += n
	return l, true
}

// read returns the whole lines of a build's log from off (none at its end).
func (a *API) read(ctx context.Context, uuid string, off int64, size int) ([]line, error) {
	r, err := a.readLines(ctx, uuid, off, size)
	if err != nil {
		return nil, err
	}
	var out []line
	for l, ok := r.next(); ok; l, ok = r.next() {
		out = append(out, l)
	}
	return out, nil
}

// scan calls f with the log's lines from off, in order, until f returns
// false or the lines written so far end.
func (a *API) scan(ctx context.Context, uuid string, off int64, f func(line) bool) error {
	for {
		r, err := a.readLines(ctx, uuid, off, readSize)
		if err != nil || len(r.text) == 0 {
			return err
		}
		for l, ok := r.next(); ok; l, ok = r.next() {
			if !f(l) {
				return nil
			}
			off = l.next
		}
	}
}

// backReach is how far before its end a backward page is looked for
// first: a page's worth and more, so that the events found there usually
// fill it.
var backReach = int64(2 * readSize)

// logEnd returns the size of a build's log (0 if it has none).
func (a *API) logEnd(ctx context.Context, uuid string) (int64, error) {
	c, err := a.o.Logs.Read(ctx, uuid, -1, 1, 0, false)
	if errors.Is(err, buildlog.ErrNoLog) {
		return 0, nil
	}
	return c.NextOffset, err
}

// lineStart returns the start of the line of a build's log that off is
// in, or 0 if off <= 0 (off past the end: that of the last line).
func (a *API) lineStart(ctx context.Context, uuid string, off int64) (int64, error) {
	if off <= 0 {
		return 0, nil
	}
	end, err := a.logEnd(ctx, uuid)
	if err != nil {
		return 0, err
	}
	// The last newline before off, read backward in steps; Read returns
	// the bytes up to the last newline of those asked (all of them when
	// there is none).
	for to, step := min(off, end), int64(64<<10); to > 0; step = min(2*step, readSize) {
		from := max(0, to-step)
		c, err := a.o.Logs.Read(ctx, uuid, from, int(to-from), 0, false)
		if errors.Is(err, buildlog.ErrNoLog) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(c.Data, '\n'); i >= 0 {
			return from + int64(i) + 1, nil
		}
		to = from
	}
	return 0, nil
}

// position is a GetLogEvents token: direction, stream and byte offset,
// written as AWS writes its tokens (f/ or b/ and 56 digits: 16 of the
// stream's hash, 40 of the offset), so that the same place always has the
// same token and a token of another stream is refused.
func position(dir byte, stream string, off int64) string {
	return string(dir) + "/" + leftPad(strconv.FormatUint(streamHash(stream), 10), 16) + leftPad(strconv.FormatInt(off, 10), 40)
}

// streamHash is a stream's name in 16 decimal digits.
func streamHash(stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return h.Sum64() % 1e16
}

func parsePosition(t string) (dir byte, stream uint64, off int64, ok bool) {
	if len(t) != 58 || t[1] != '/' || t[0] != 'f' && t[0] != 'b' || strings.Trim(t[2:], "0123456789") != "" {
		return 0, 0, 0, false
	}
	stream, err := strconv.ParseUint(t[2:18], 10, 64)
	if err != nil {
		return 0, 0, 0, false
	}
	off, err = strconv.ParseInt(t[18:], 10, 64)
	return t[0], stream, off, err == nil
}

func encodeToken(kind string, v any) *string {
	data, _ := json.Marshal(v)
	s := kind + "/" + base64.RawURLEncoding.EncodeToString(data)
	return &s
}

func decodeToken[T any](t, kind string) (T, error) {
	var v T
	rest, ok := strings.CutPrefix(t, kind+"/")
	if !ok {
		return v, invalid("The specified nextToken is invalid.")
	}
	data, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || json.Unmarshal(data, &v) != nil {
		return v, invalid("The specified nextToken is invalid.")
	}
	return v, nil
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
