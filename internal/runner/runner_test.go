package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob/fs"
	"github.com/buildbatch/buildbatch/internal/buildlog"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/executor"
	"github.com/buildbatch/buildbatch/internal/executor/fake"
	"github.com/buildbatch/buildbatch/internal/executor/local"
	"github.com/buildbatch/buildbatch/internal/secrets"
	"github.com/buildbatch/buildbatch/internal/store"
	"github.com/buildbatch/buildbatch/internal/store/sqlite"
)

// executors are the executors the runner's tests run on: the local one,
// and the fake one whose directories are apart from the runner's, so that
// everything must be copied in and out.
var executors = map[string]func(dir string) executor.Executor{
	"local": func(string) executor.Executor {
		return &local.Executor{KillGrace: 100 * time.Millisecond, Base: []string{"PATH=/usr/bin:/bin"}}
	},
	"fake": func(dir string) executor.Executor {
		return fake.New(filepath.Join(dir, "remote"), []string{"PATH=/usr/bin:/bin"})
	},
}

func newRunner(t *testing.T) (*Runner, store.Store) {
	return newRunnerOn(t, "local")
}

func newRunnerOn(t *testing.T, name string) (*Runner, store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs, _ := buildlog.NewStore(filepath.Join(dir, "logs"))
	blobs, _ := fs.New(filepath.Join(dir, "artifacts"))
	sec, _ := secrets.Load("")
	r := New(Config{Store: st, Executor: executors[name](dir), Logs: logs, Blob: blobs, Secrets: sec,
		WorkDir: filepath.Join(dir, "builds"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return r, st
}

func queuedBuild(t *testing.T, st store.Store, buildspec string) *store.Build {
	t.Helper()
	now := time.Now()
	doc := &cb.Build{Id: cb.String("p:" + strings.ReplaceAll(t.Name(), "/", "-")), ProjectName: cb.String("p"), BuildNumber: cb.Int64(1),
		StartTime: cb.At(now), BuildStatus: cb.String(cb.StatusTypeInProgress), BuildComplete: cb.Bool(false),
		Source: &cb.ProjectSource{Type: cb.String("NO_SOURCE"), Buildspec: cb.String(buildspec)}, TimeoutInMinutes: cb.Int32(60)}
	document.Start(doc, document.Submitted, now)
	document.End(doc, cb.StatusTypeSucceeded, nil, now)
	document.Start(doc, document.Queued, now)
	b := &store.Build{Scope: store.Scope{Account: "000000000000", Region: "us-east-1"}, Doc: doc}
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.BuildInsert(context.Background(), b) }); err != nil {
		t.Fatal(err)
	}
	return b
}

func table(doc *cb.Build) string {
	var parts []string
	for _, p := range doc.Phases[2:] { // after SUBMITTED and QUEUED
		s := cb.Deref(p.PhaseType)
		if p.PhaseStatus != nil {
			s += ":" + *p.PhaseStatus
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestPhaseStateMachine checks which phases run after which failure.
func TestPhaseStateMachine(t *testing.T) {
	const ok = "PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:SUCCEEDED "
	tests := []struct {
		name, buildspec, want, status string
	}{
		{"all succeed", "version: 0.2\nphases:\n  build:\n    commands: [true]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "SUCCEEDED"},
		{"install fails", "version: 0.2\nphases:\n  install:\n    commands: [false]\n  build:\n    commands: [true]\n",
			ok + "INSTALL:FAILED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"pre_build fails", "version: 0.2\nphases:\n  pre_build:\n    commands: [false]\n  build:\n    commands: [true]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:FAILED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"build fails, post_build runs", "version: 0.2\nphases:\n  build:\n    commands: [false]\n  post_build:\n    commands: [true]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"build fails with ABORT", "version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n    commands: [false]\n  post_build:\n    commands: [true]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"install fails with CONTINUE", "version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands: [false]\n  build:\n    commands: [true]\n",
			ok + "INSTALL:FAILED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"post_build fails", "version: 0.2\nphases:\n  build:\n    commands: [true]\n  post_build:\n    commands: [false]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:FAILED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"finally fails", "version: 0.2\nphases:\n  build:\n    commands: [true]\n    finally: [false]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"retry then succeed", "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2\n    commands:\n      - n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 1 ]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "SUCCEEDED"},
		{"invalid buildspec", "version: 0.2\nphases: [\n",
			"PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:FAILED FINALIZING:SUCCEEDED COMPLETED", "FAILED"},
		{"artifacts missing", "version: 0.2\nphases:\n  build:\n    commands: [true]\nartifacts:\n  files: [nothing-here]\n",
			ok + "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED", "SUCCEEDED"},
	}
	for _, tt := range tests {
		for name := range executors {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				r, st := newRunnerOn(t, name)
				b := r.Run(context.Background(), queuedBuild(t, st, tt.buildspec)).Build
				if got := table(b.Doc); got != tt.want || cb.Deref(b.Doc.BuildStatus) != tt.status || !cb.Deref(b.Doc.BuildComplete) {
					t.Errorf("phases %s status %s\nwant   %s status %s", got, cb.Deref(b.Doc.BuildStatus), tt.want, tt.status)
				}
				var stored *store.Build
				st.View(context.Background(), func(tx store.Tx) error {
					var err error
					stored, err = tx.BuildGet(context.Background(), b.Scope, cb.Deref(b.Doc.Id))
					return err
				})
				// The end is the caller's to store (with what follows from
				// it); every phase before it was stored, with the same revision.
				if cb.Deref(stored.Doc.BuildComplete) || !strings.HasPrefix(table(b.Doc), table(stored.Doc)) || stored.Rev != b.Rev {
					t.Errorf("stored phases %s (rev %d), ran %s (rev %d)", table(stored.Doc), stored.Rev, table(b.Doc), b.Rev)
				}
			})
		}
	}
}

// TestImageMissing: an image the executor cannot have fails PROVISIONING
// with the executor's context, and the build FAILED.
func TestImageMissing(t *testing.T) {
	r, st := newRunnerOn(t, "fake")
	b := queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands: [true]\n")
	b.Doc.Environment = &cb.ProjectEnvironment{Image: cb.String("missing/image:1"), Type: cb.String("LINUX_CONTAINER"), ComputeType: cb.String("BUILD_GENERAL1_SMALL")}
	r.Run(context.Background(), b)
	if got := table(b.Doc); got != "PROVISIONING:FAILED FINALIZING:SUCCEEDED COMPLETED" || cb.Deref(b.Doc.BuildStatus) != "FAILED" {
		t.Fatalf("phases %s status %s", got, cb.Deref(b.Doc.BuildStatus))
	}
	c := b.Doc.Phases[2].Contexts[0]
	if cb.Deref(c.StatusCode) != "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE" || !strings.Contains(cb.Deref(c.Message), "missing/image:1") {
		t.Errorf("context %s: %s", cb.Deref(c.StatusCode), cb.Deref(c.Message))
	}
}

// TestRemoteLayout: with the fake executor the build sees its own
// directories, and artifacts and exported variables come back.
func TestRemoteLayout(t *testing.T) {
	r, st := newRunnerOn(t, "fake")
	b := queuedBuild(t, st, `version: 0.2
env:
  exported-variables: [WHERE]
phases:
  build:
    commands:
      - case "$CODEBUILD_SRC_DIR" in */remote/*) ;; *) echo "wrong dir $CODEBUILD_SRC_DIR"; exit 1;; esac
      - '[ "$(pwd)" = "$CODEBUILD_SRC_DIR" ]'
      - mkdir -p out && echo payload > out/result.txt
      - export WHERE=remote
artifacts:
  files: [out/result.txt]
`)
	b.Meta.Artifacts = &cb.ProjectArtifacts{Type: cb.String(cb.ArtifactsTypeS3), Location: cb.String("bucket"), Name: cb.String("a"), Packaging: cb.String("NONE")}
	r.Run(context.Background(), b)
	if cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
		t.Fatalf("status %s: %s", cb.Deref(b.Doc.BuildStatus), table(b.Doc))
	}
	rc, err := r.cfg.Blob.Open(context.Background(), "bucket", "a/out/result.txt")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "payload\n" {
		t.Errorf("artifact %q", data)
	}
	if v := b.Doc.ExportedEnvironmentVariables; len(v) != 1 || cb.Deref(v[0].Value) != "remote" {
		t.Errorf("exported %v", v)
	}
}

func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		cause  error
		want   string
		status string
	}{
		{ErrStopped, "BUILD:STOPPED COMPLETED", "STOPPED"},
		{ErrTimedOut, "BUILD:TIMED_OUT FINALIZING:SUCCEEDED COMPLETED", "TIMED_OUT"},
		{ErrShutdown, "BUILD:FAULT COMPLETED", "FAULT"},
	}
	for _, tt := range tests {
		r, st := newRunner(t)
		b := queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands: [sleep 600]\n")
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			time.Sleep(300 * time.Millisecond)
			cancel(tt.cause)
		}()
		start := time.Now()
		r.Run(ctx, b)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v: took %v", tt.cause, d)
		}
		if got := table(b.Doc); !strings.HasSuffix(got, tt.want) || cb.Deref(b.Doc.BuildStatus) != tt.status {
			t.Errorf("%v: phases %s status %s, want ...%s %s", tt.cause, got, cb.Deref(b.Doc.BuildStatus), tt.want, tt.status)
		}
	}
}

// TestTakenOver: when another node takes the build over (its revision
// changes under the runner), the run stops at its next write, stores
// nothing more and reports the build lost; a run cancelled with ErrLost
// (its lease was not renewed) stores nothing either.
func TestTakenOver(t *testing.T) {
	r, st := newRunner(t)
	b := queuedBuild(t, st, "version: 0.2\nphases:\n  install:\n    commands: [sleep 0.5]\n  build:\n    commands: [sleep 600]\n")
	ctx := context.Background()
	go func() {
		// Once INSTALL runs, another node claims the build.
		for {
			var got *store.Build
			st.View(ctx, func(tx store.Tx) (err error) { got, err = tx.BuildGet(ctx, b.Scope, cb.Deref(b.Doc.Id)); return err })
			if document.Open(got.Doc) == document.Install {
				st.Update(ctx, func(tx store.Tx) error { return tx.BuildPut(ctx, got) })
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start := time.Now()
	res := r.Run(ctx, b)
	if !res.Lost || time.Since(start) > 20*time.Second {
		t.Fatalf("lost %v after %v: %s", res.Lost, time.Since(start), table(b.Doc))
	}
	var stored *store.Build
	st.View(ctx, func(tx store.Tx) (err error) { stored, err = tx.BuildGet(ctx, b.Scope, cb.Deref(b.Doc.Id)); return err })
	if document.Open(stored.Doc) != document.Install {
		t.Errorf("the runner wrote after losing the build: %s", table(stored.Doc))
	}

	t.Run("lease", func(t *testing.T) {
		b2 := queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands: [sleep 600]\n")
		cctx, cancel := context.WithCancelCause(ctx)
		go func() { time.Sleep(300 * time.Millisecond); cancel(ErrLost) }()
		if res := r.Run(cctx, b2); !res.Lost {
			t.Errorf("cancelled with ErrLost: lost = false")
		}
		st.View(ctx, func(tx store.Tx) (err error) {
			stored, err = tx.BuildGet(ctx, b2.Scope, cb.Deref(b2.Doc.Id))
			return err
		})
		if cb.Deref(stored.Doc.BuildComplete) {
			t.Errorf("a lost build was stored complete: %s", table(stored.Doc))
		}
	})
}

// TestExportedSecretsMasked: a parameter-store or secrets-manager value
// exported by env.exported-variables (directly, or inside another value)
// comes back masked, as it is in the log; ordinary exported values do not.
func TestExportedSecretsMasked(t *testing.T) {
	r, st := newRunner(t)
	r.cfg.Secrets = &secrets.Store{Parameters: map[string]string{"/db/password": "hunter22"},
		Secrets: map[string]json.RawMessage{"api": json.RawMessage(`{"token":"tok-123456"}`)}}
	b := queuedBuild(t, st, `version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /db/password
  secrets-manager:
    TOKEN: api:token
  exported-variables: [DB_PASSWORD, TOKEN, URL, PLAIN]
phases:
  build:
    commands:
      - export URL="https://user:$DB_PASSWORD@example.com/?t=$TOKEN"
      - export PLAIN=visible
      - echo "$DB_PASSWORD $TOKEN"
`)
	r.Run(context.Background(), b)
	if cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
		t.Fatalf("status %s: %s", cb.Deref(b.Doc.BuildStatus), table(b.Doc))
	}
	got := map[string]string{}
	for _, v := range b.Doc.ExportedEnvironmentVariables {
		got[cb.Deref(v.Name)] = cb.Deref(v.Value)
	}
	want := map[string]string{"DB_PASSWORD": "***", "TOKEN": "***", "URL": "https://user:***@example.com/?t=***", "PLAIN": "visible"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported %v, want %v", got, want)
	}
	if log := buildLog(t, r, b); strings.Contains(log, "hunter22") || strings.Contains(log, "tok-123456") || !strings.Contains(log, "*** ***") {
		t.Errorf("log shows a secret or lacks the masked line:\n%s", log)
	}
}

// TestWorkspaceReused: the next build gets the finished build's workspace
// back, renamed and emptied: nothing of the first build (its files, its
// exported variables, its working directory) reaches it.
func TestWorkspaceReused(t *testing.T) {
	for name := range executors {
		t.Run(name, func(t *testing.T) {
			r, st := newRunnerOn(t, name)
			var first, second *store.Build
			t.Run("first", func(t *testing.T) {
				first = queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands:\n      - export LEAK=first\n      - mkdir -p sub && cd sub && echo x > file\n")
			})
			t.Run("second", func(t *testing.T) {
				second = queuedBuild(t, st, "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"LEAK=${LEAK:-none} PWD=$(pwd) FILES=$(ls -A | wc -l)\"\n")
			})
			if b := r.Run(context.Background(), first).Build; cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
				t.Fatalf("first build: %s", table(b.Doc))
			}
			if r.ws.Idle() != 1 {
				t.Fatalf("idle workspaces after the first build: %d", r.ws.Idle())
			}
			b := r.Run(context.Background(), second).Build
			if cb.Deref(b.Doc.BuildStatus) != "SUCCEEDED" {
				t.Fatalf("second build: %s", table(b.Doc))
			}
			log := buildLog(t, r, b)
			if !strings.Contains(log, "LEAK=none PWD=") || !strings.Contains(log, " FILES=0") {
				t.Errorf("the second build saw the first one's workspace:\n%s", log)
			}
			if want := "PWD=" + filepath.Join(r.ws.Path("TestWorkspaceReused-local-second"), "src") + " "; name == "local" && !strings.Contains(log, want) {
				t.Errorf("the second build did not run in its own directory (%s):\n%s", want, log)
			}
			if r.ws.Idle() != 1 {
				t.Errorf("idle workspaces after the second build: %d", r.ws.Idle())
			}
		})
	}
}
