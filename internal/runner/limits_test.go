package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/store"
)

// TestLogLimit: a build printing past MaxLogBytes goes on and succeeds;
// its log is cut with a marker line and the phase in which it happened
// says so; the runner's own lines after it are still there.
func TestLogLimit(t *testing.T) {
	r, st := newRunner(t)
	r.cfg.MaxLogBytes = 64 << 10
	b := queuedBuild(t, st, `version: 0.2
phases:
  build:
    commands:
      - yes 'a line of output' | head -c 1000000
      - echo after
  post_build:
    commands:
      - echo post
`)
	r.Run(context.Background(), b)
	if cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
		t.Fatalf("status %s: %s", cb.Deref(b.Doc.BuildStatus), table(b.Doc))
	}
	log := buildLog(t, r, b)
	if len(log) > 64<<10+4096 || !strings.Contains(log, "Output dropped: the build's log reached its limit of 65536 bytes (--max-log-bytes)") ||
		strings.Contains(log, "\nafter\n") || !strings.Contains(log, "Phase complete: POST_BUILD State: SUCCEEDED") {
		t.Errorf("log of %d bytes:\n%s", len(log), log[max(0, len(log)-1500):])
	}
	var got []string
	for _, p := range b.Doc.Phases {
		for _, c := range p.Contexts {
			if cb.Deref(c.StatusCode) == document.LogLimitExceeded {
				got = append(got, cb.Deref(p.PhaseType)+": "+cb.Deref(c.Message))
			}
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "BUILD: The build's log reached its limit of 64KiB (--max-log-bytes)") {
		t.Errorf("contexts %q", got)
	}
}

// TestArtifactLimit: an artifact past MaxArtifactBytes fails
// UPLOAD_ARTIFACTS with a context naming the limit, for a ZIP and for a
// folder, and nothing of it is stored.
func TestArtifactLimit(t *testing.T) {
	for _, packaging := range []string{"ZIP", "NONE"} {
		t.Run(packaging, func(t *testing.T) {
			r, st := newRunner(t)
			r.cfg.MaxArtifactBytes = 4096
			b := queuedBuild(t, st, `version: 0.2
phases:
  build:
    commands:
      - head -c 20000 /dev/urandom > big.bin
      - echo small > small.txt
artifacts:
  files: [big.bin, small.txt]
`)
			b.Meta.Artifacts = &cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeS3), Location: cb.String("bucket"), Name: cb.String("a"), Packaging: cb.String(packaging)}
			r.Run(context.Background(), b)
			if got := table(b.Doc); cb.Deref(b.Doc.BuildStatus) != "FAILED" || !strings.Contains(got, "UPLOAD_ARTIFACTS:FAILED") {
				t.Fatalf("status %s: %s", cb.Deref(b.Doc.BuildStatus), got)
			}
			var ctx cb.PhaseContext
			for _, p := range b.Doc.Phases {
				if cb.Deref(p.PhaseType) == document.UploadArtifacts {
					ctx = p.Contexts[0]
				}
			}
			if cb.Deref(ctx.StatusCode) != document.ArtifactTooLarge || !strings.Contains(cb.Deref(ctx.Message), "larger than the limit of 4KiB (--max-artifact-bytes)") {
				t.Errorf("context %s: %s", cb.Deref(ctx.StatusCode), cb.Deref(ctx.Message))
			}
			keys, err := r.cfg.Blob.List(context.Background(), "bucket", "")
			if err != nil || len(keys) != 0 {
				t.Errorf("stored %v (%v)", keys, err)
			}
		})
	}
}

// failingLogs is a log store whose logs fail once they hold more than
// room bytes, as on a disk that fills up.
type failingLogs struct {
	buildlog.Logs
	room int
}

type failingOutput struct {
	room int
	n    int
}

func (o *failingOutput) Append(p []byte, _ time.Time) error {
	if o.n+len(p) > o.room {
		return errors.New("write /data/logs/x.log: no space left on device")
	}
	o.n += len(p)
	return nil
}

func (o *failingOutput) Close() error { return nil }

func (l failingLogs) Create(name string) (*buildlog.Writer, error) {
	return buildlog.NewWriter(&failingOutput{room: l.room}, nil), nil
}

// TestLogFailureEndsBuild: a build whose log cannot be written (a full
// disk) ends FAULT at once, with a context naming the cause, instead of
// running on unseen.
func TestLogFailureEndsBuild(t *testing.T) {
	r, st := newRunner(t)
	r.cfg.Logs = failingLogs{Logs: r.cfg.Logs, room: 1024}
	b := queuedBuild(t, st, `version: 0.2
phases:
  build:
    commands:
      - i=0; while [ $i -lt 600 ]; do echo "line $i of a build that fills the disk"; i=$((i+1)); sleep 0.05; done
`)
	start := time.Now()
	r.Run(context.Background(), b)
	if cb.Deref(b.Doc.BuildStatus) != "FAULT" {
		t.Fatalf("status %s: %s", cb.Deref(b.Doc.BuildStatus), table(b.Doc))
	}
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("the build ran on for %s", took) // it would take 30s to its end
	}
	var msg string
	for _, p := range b.Doc.Phases {
		if cb.Deref(p.PhaseStatus) == "FAULT" {
			msg = cb.Deref(p.Contexts[0].Message)
		}
	}
	if !strings.Contains(msg, "the build's log could not be written") || !strings.Contains(msg, "no space left on device") {
		t.Errorf("context %q", msg)
	}
}

// fullStore refuses every write, as a store on a full disk does.
type fullStore struct{ store.Store }

func (fullStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return &store.FullError{Err: errors.New("database or disk is full")}
}

// TestStoreFailureEndsBuild: a build whose progress cannot be saved ends
// FAULT with a context naming the cause (the scheduler then stores that
// end as soon as the store takes writes again).
func TestStoreFailureEndsBuild(t *testing.T) {
	r, st := newRunner(t)
	b := queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 20\n")
	r.cfg.Store = fullStore{st}
	start := time.Now()
	res := r.Run(context.Background(), b)
	if cb.Deref(res.Build.Doc.BuildStatus) != "FAULT" || time.Since(start) > 15*time.Second {
		t.Fatalf("status %s after %s: %s", cb.Deref(b.Doc.BuildStatus), time.Since(start), table(b.Doc))
	}
	var msg string
	for _, p := range b.Doc.Phases {
		if cb.Deref(p.PhaseStatus) == "FAULT" {
			msg = cb.Deref(p.Contexts[0].Message)
		}
	}
	if !strings.Contains(msg, "the build's progress could not be saved") || !strings.Contains(msg, "disk is full") {
		t.Errorf("context %q", msg)
	}
}
