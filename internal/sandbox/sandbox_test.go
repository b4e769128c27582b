package sandbox

import (
	"strings"
	"testing"
	"time"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func project() *cb.Project {
	return &cb.Project{Name: cb.String("p"), Source: &cb.ProjectSource{Type: cb.String("NO_SOURCE")},
		Environment: &cb.ProjectEnvironment{Image: cb.String("img")}, TimeoutInMinutes: cb.Int32(30), ServiceRole: cb.String("role"),
		LogsConfig: &cb.LogsConfig{CloudWatchLogs: &cb.CloudWatchLogsConfig{Status: cb.String("ENABLED")}}}
}

func phases(s *cb.Sandbox) string {
	var out []string
	for _, p := range s.CurrentSession.Phases {
		out = append(out, cb.Deref(p.PhaseType)+"/"+cb.Deref(p.PhaseStatus))
	}
	return strings.Join(out, " ")
}

func TestNew(t *testing.T) {
	r := New(project(), "us-east-1", "123456789012", "u1", "s1", t0)
	s := r.Sandbox
	if cb.Deref(s.Id) != "p:u1" || cb.Deref(s.Arn) != "arn:aws:codebuild:us-east-1:123456789012:sandbox/p:u1" ||
		cb.Deref(s.Status) != StatusQueued || cb.Deref(s.TimeoutInMinutes) != 30 || cb.Deref(s.ServiceRole) != "role" ||
		cb.Deref(s.Environment.Image) != "img" || s.LogConfig == nil || !s.RequestTime.Equal(t0) || s.StartTime != nil {
		t.Fatalf("%+v", s)
	}
	if got := phases(s); got != "SUBMITTED/SUCCEEDED QUEUED/" || cb.Deref(s.CurrentSession.CurrentPhase) != PhaseQueued ||
		cb.Deref(s.CurrentSession.Id) != "s1" || cb.Deref(s.CurrentSession.Status) != cb.StatusTypeInProgress {
		t.Fatalf("session %s %+v", got, s.CurrentSession)
	}
	p := project()
	p.TimeoutInMinutes = nil
	if got := cb.Deref(New(p, "r", "a", "u", "s", t0).Sandbox.TimeoutInMinutes); got != 60 {
		t.Errorf("default timeout %d", got)
	}
}

func TestLifecycle(t *testing.T) {
	r := New(project(), "us-east-1", "1", "u1", "s1", t0)
	s := r.Sandbox
	Next(s, PhaseProvisioning, t0.Add(time.Second))
	if cb.Deref(s.Status) != StatusInProgress || !s.StartTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("after PROVISIONING: %s %v", cb.Deref(s.Status), s.StartTime)
	}
	Next(s, PhaseDownloadSource, t0.Add(3*time.Second))
	Next(s, PhaseRunSandbox, t0.Add(4*time.Second))
	if !Running(s) || Open(s) != PhaseRunSandbox {
		t.Fatal("not running")
	}
	if p := s.CurrentSession.Phases[2]; cb.Deref(p.DurationInSeconds) != 2 || len(p.Contexts) != 1 {
		t.Errorf("PROVISIONING: %+v", p)
	}
	if !Stop(r) || cb.Deref(s.Status) != StatusStopping || !r.StopRequested || Running(s) {
		t.Fatal("Stop")
	}
	Stopped(s, t0.Add(10*time.Second))
	if got := phases(s); got != "SUBMITTED/SUCCEEDED QUEUED/SUCCEEDED PROVISIONING/SUCCEEDED DOWNLOAD_SOURCE/SUCCEEDED RUN_SANDBOX/SUCCEEDED COMPLETED/" {
		t.Errorf("phases %s", got)
	}
	if cb.Deref(s.Status) != StatusStopped || cb.Deref(s.CurrentSession.Status) != cb.StatusTypeStopped || !s.EndTime.Equal(t0.Add(10*time.Second)) ||
		cb.Deref(s.CurrentSession.CurrentPhase) != PhaseCompleted || !Final(s) {
		t.Errorf("end: %+v %+v", s, s.CurrentSession)
	}
	if Stop(r) {
		t.Error("an ended sandbox stopped again")
	}
	TimedOut(s, t0.Add(time.Hour)) // no change
	if cb.Deref(s.CurrentSession.Status) != cb.StatusTypeStopped {
		t.Error("an ended sandbox changed")
	}
}

func TestTimedOutAndFailed(t *testing.T) {
	s := New(project(), "r", "a", "u", "s", t0).Sandbox
	Next(s, PhaseProvisioning, t0)
	Next(s, PhaseDownloadSource, t0)
	Next(s, PhaseRunSandbox, t0)
	TimedOut(s, t0.Add(time.Minute))
	p := s.CurrentSession.Phases[4]
	if cb.Deref(p.PhaseStatus) != cb.StatusTypeTimedOut || cb.Deref(p.Contexts[0].StatusCode) != TimedOutCode ||
		cb.Deref(p.Contexts[0].Message) != TimedOutMessage || cb.Deref(s.Status) != StatusStopped || cb.Deref(s.CurrentSession.Status) != cb.StatusTypeTimedOut {
		t.Errorf("timed out: %+v %s", p, cb.Deref(s.Status))
	}

	f := New(project(), "r", "a", "u", "s", t0).Sandbox
	Next(f, PhaseProvisioning, t0)
	Failed(f, cb.StatusTypeFailed, "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE", "no image", t0)
	if got := phases(f); got != "SUBMITTED/SUCCEEDED QUEUED/SUCCEEDED PROVISIONING/FAILED COMPLETED/" || cb.Deref(f.Status) != StatusFailed ||
		cb.Deref(f.CurrentSession.Phases[2].Contexts[0].Message) != "no image" {
		t.Errorf("failed: %s %s", got, cb.Deref(f.Status))
	}

	// Stopped before it ran: the open phase ends STOPPED.
	q := New(project(), "r", "a", "u", "s", t0).Sandbox
	Next(q, PhaseProvisioning, t0)
	Stopped(q, t0)
	if got := phases(q); got != "SUBMITTED/SUCCEEDED QUEUED/SUCCEEDED PROVISIONING/STOPPED COMPLETED/" {
		t.Errorf("stopped while provisioning: %s", got)
	}
}

func TestCommands(t *testing.T) {
	s := New(project(), "us-east-1", "1", "u1", "s1", t0).Sandbox
	c := NewCommand(s, "c1", "ls", "", t0)
	e := c.Exec
	if c.Sandbox != "p:u1" || cb.Deref(e.SandboxId) != "u1" || cb.Deref(e.SandboxArn) != cb.Deref(s.Arn) ||
		cb.Deref(e.Status) != CommandSubmitted || cb.Deref(e.Type) != CommandTypeShell || CommandDone(e) {
		t.Fatalf("%+v", e)
	}
	if CommandName(c.Sandbox, "c1") != "p:u1/c1" || UUIDOf("p:u1") != "u1" {
		t.Error("names")
	}
	Begin(e, t0.Add(time.Second))
	Finish(e, 0, []byte("out\n"), nil, t0.Add(2*time.Second))
	if cb.Deref(e.Status) != CommandSucceeded || cb.Deref(e.ExitCode) != "0" || cb.Deref(e.StandardOutputContent) != "out\n" ||
		e.StandardErrContent != nil || !CommandDone(e) {
		t.Errorf("succeeded: %+v", e)
	}
	f := NewCommand(s, "c2", "x", CommandTypeShell, t0).Exec
	big := []byte(strings.Repeat("é", MaxOutput)) // 2 bytes each
	Finish(f, 127, nil, big, t0)
	if cb.Deref(f.Status) != CommandFailed || cb.Deref(f.ExitCode) != "127" || f.StandardOutputContent != nil ||
		len(*f.StandardErrContent) != MaxOutput || !strings.HasPrefix(*f.StandardErrContent, "é") {
		t.Errorf("failed: %s %s %d", cb.Deref(f.Status), cb.Deref(f.ExitCode), len(cb.Deref(f.StandardErrContent)))
	}
	a := NewCommand(s, "c3", "x", "", t0).Exec
	Abort(a, t0)
	if cb.Deref(a.Status) != CommandFailed || a.ExitCode != nil || a.StartTime == nil {
		t.Errorf("aborted: %+v", a)
	}
}

func TestQueuedTooLong(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sb := func(status string, minutes int32) *cb.Sandbox {
		return &cb.Sandbox{Status: cb.String(status), RequestTime: cb.At(t0), QueuedTimeoutInMinutes: cb.Int32(minutes)}
	}
	for _, c := range []struct {
		name string
		s    *cb.Sandbox
		at   time.Duration
		want bool
	}{
		{"before", sb(StatusQueued, 5), 4 * time.Minute, false},
		{"at", sb(StatusQueued, 5), 5 * time.Minute, true},
		{"running", sb(StatusInProgress, 5), time.Hour, false},
		{"no timeout", sb(StatusQueued, 0), time.Hour, false},
	} {
		if got := QueuedTooLong(c.s, time.Minute, t0.Add(c.at)); got != c.want {
			t.Errorf("%s: QueuedTooLong = %v, want %v", c.name, got, c.want)
		}
	}
}
