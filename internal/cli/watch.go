package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
)

// watchInterval is how often watch refreshes.
var watchInterval = time.Second

// isTerminal tells whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// groupRow is one line of the watch table.
type groupRow struct {
	identifier, status, phase, duration, dependsOn string
}

// batchRows reads the batch and its members' builds.
func batchRows(ctx context.Context, c *client, id string) (*cb.BuildBatch, []groupRow, error) {
	bb, err := c.getBatch(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if bb == nil {
		return nil, nil, fmt.Errorf("no build batch %s", id)
	}
	var ids []string
	for _, g := range bb.BuildGroups {
		if s := g.CurrentBuildSummary; s != nil && cb.Deref(s.Arn) != "" && cb.Deref(s.BuildStatus) != document.Pending {
			ids = append(ids, cb.Deref(s.Arn))
		}
	}
	builds := map[string]*cb.Build{}
	for len(ids) > 0 { // BatchGetBuilds takes up to 100 ids
		n := min(len(ids), 100)
		var out cb.BatchGetBuildsOutput
		if err := c.call(ctx, batchGetBuildsTarget, cb.BatchGetBuildsInput{Ids: ids[:n]}, &out); err != nil {
			return nil, nil, err
		}
		for i := range out.Builds {
			builds[cb.Deref(out.Builds[i].Arn)] = &out.Builds[i]
		}
		ids = ids[n:]
	}
	now := time.Now()
	var rows []groupRow
	for _, g := range bb.BuildGroups {
		r := groupRow{identifier: cb.Deref(g.Identifier), status: document.Pending, phase: "-", duration: "-", dependsOn: "-"}
		if len(g.DependsOn) > 0 {
			r.dependsOn = strings.Join(g.DependsOn, ",")
		}
		if s := g.CurrentBuildSummary; s != nil {
			r.status = cb.Deref(s.BuildStatus)
			if b := builds[cb.Deref(s.Arn)]; b != nil {
				r.phase = firstNonEmpty(cb.Deref(b.CurrentPhase), "-")
				if b.StartTime != nil {
					end := now
					if b.EndTime != nil {
						end = b.EndTime.Time
					}
					r.duration = formatDuration(end.Sub(b.StartTime.Time))
				}
			}
		}
		rows = append(rows, r)
	}
	return bb, rows, nil
}

// renderTable renders the batch's heading and group table.
func renderTable(bb *cb.BuildBatch, rows []groupRow, withDuration bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "batch %s %s %s\n", cb.Deref(bb.Id), cb.Deref(bb.BuildBatchStatus), cb.Deref(bb.CurrentPhase))
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTIFIER\tSTATUS\tPHASE\tDURATION\tDEPENDS ON")
	for _, r := range rows {
		d := r.duration
		if !withDuration && d != "-" {
			d = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.identifier, r.status, r.phase, d, r.dependsOn)
	}
	tw.Flush()
	return sb.String()
}

func watch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addCommandFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: buildbatch watch [flags] <batch-id-or-arn>")
		fmt.Fprintln(stderr, "Shows a live table of a build batch's groups until it ends; exits 1 if it ended other than SUCCEEDED.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := failer(ctx, stderr, "watch")
	c, err := cf.client()
	if err != nil {
		return fail(err)
	}
	id := fs.Arg(0)
	if kind, ok := arnKind(id); ok && kind != kindBatch {
		return fail(fmt.Errorf("%s is not a build batch", id))
	}
	tty := isTerminal(stdout)
	var last string // plain output: the last table, durations left out
	lines := 0      // terminal: lines of the table on screen
	for {
		bb, rows, err := batchRows(ctx, c, id)
		if err != nil {
			return fail(err)
		}
		table := renderTable(bb, rows, true)
		if tty {
			if lines > 0 {
				fmt.Fprintf(stdout, "\x1b[%dA\x1b[J", lines)
			}
			io.WriteString(stdout, table)
			lines = strings.Count(table, "\n")
		} else if key := renderTable(bb, rows, false); key != last {
			if last != "" {
				io.WriteString(stdout, "\n")
			}
			io.WriteString(stdout, table)
			last = key
		}
		if cb.Deref(bb.Complete) {
			if s := cb.Deref(bb.BuildBatchStatus); s != cb.StatusTypeSucceeded {
				fmt.Fprintf(stderr, "buildbatch watch: batch %s %s\n", cb.Deref(bb.Id), s)
				return 1
			}
			return 0
		}
		if err := sleep(ctx, watchInterval); err != nil {
			return 130
		}
	}
}

// formatDuration rounds to tenths of a second under a minute, to seconds
// above.
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
