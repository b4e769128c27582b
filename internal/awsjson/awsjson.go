// Package awsjson serves the AWS JSON 1.1 protocol over net/http: POST with
// X-Amz-Target routing, SigV4 authentication, strict decoding and validation
// of the request against the model, and AWS-shaped responses and errors.
package awsjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/sigv4"
)

// ContentType is the AWS JSON 1.1 media type.
const ContentType = "application/x-amz-json-1.1"

// Caller is the authenticated identity of a request.
type Caller struct {
	Account   string
	Region    string
	AccessKey string
	// User names the caller: the credentials file section in strict mode,
	// the access key in local mode.
	User      string
	RequestID string
}

type callerKey struct{}

// CallerFrom returns the caller of a request context.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// WithCaller returns ctx carrying c (for tests and internal callers).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// Error is an error as the client sees it.
type Error struct {
	Type    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf returns a 400 error of the given AWS type.
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// Common error types.
const (
	InvalidInput          = "InvalidInputException"
	ResourceNotFound      = "ResourceNotFoundException"
	ResourceAlreadyExists = "ResourceAlreadyExistsException"
	AccountLimitExceeded  = "AccountLimitExceededException"
	Serialization         = "SerializationException"
	UnknownOperation      = "UnknownOperationException"
	InternalFailure       = "InternalFailure"
	// ServiceUnavailable (HTTP 503, which SDKs retry) answers requests the
	// service cannot do for now: its disk is full, say.
	ServiceUnavailable = "ServiceUnavailableException"
)

// Unavailable is implemented by errors that end when the service has
// room again (a full disk): handlers' errors that have it are answered
// ServiceUnavailable with their message, not InternalFailure.
type Unavailable interface{ Unavailable() bool }

type handler struct {
	input *codebuild.Shape
	call  func(ctx context.Context, raw []byte) (any, error)
	// precheck, when set, sees the decoded request before the model's
	// validation, for the few requests AWS answers with its own message
	// where the model's would apply.
	precheck func(req map[string]any) *Error
}

// Precheck registers a check of an operation's decoded request that runs
// before the model's validation (the operation must be registered).
func Precheck(s *Server, name string, f func(req map[string]any) *Error) {
	h := s.handlers[s.prefix+name]
	h.precheck = f
	s.handlers[s.prefix+name] = h
}

// Server routes AWS JSON requests to registered operations.
type Server struct {
	prefix   string // the model's target prefix with its dot
	verifier *sigv4.Verifier
	log      *slog.Logger
	handlers map[string]handler
	maxBody  int64
	// unknown, when set, answers a target of this server's prefix that
	// names no operation registered (see OnUnknown).
	unknown func(op string) *Error
}

// OnUnknown sets how the server answers an operation of its prefix that
// it does not serve (op is the operation's name).
func (s *Server) OnUnknown(f func(op string) *Error) { s.unknown = f }

// NewServer returns a server for operations whose X-Amz-Target starts with
// prefix + ".".
func NewServer(prefix string, v *sigv4.Verifier, log *slog.Logger) *Server {
	return &Server{prefix: prefix + ".", verifier: v, log: log, handlers: map[string]handler{}, maxBody: 16 << 20}
}

// Handle registers the operation called name of the model; In and Out are its
// generated input and output types.
func Handle[In, Out any](s *Server, name string, f func(ctx context.Context, in *In) (*Out, error)) {
	op, ok := codebuild.LookupOperation(name)
	if !ok {
		panic("awsjson: operation not in the model: " + name)
	}
	shape, _ := codebuild.LookupShape(op.Input)
	s.handlers[s.prefix+name] = handler{input: shape, call: call(f)}
}

// Raw is a response body that is already JSON; it is written as it is.
// The server reuses its memory once written (see Buffer): a handler must
// not return bytes it keeps.
type Raw []byte

var buffers sync.Pool

// Buffer returns an empty byte slice with at least size capacity, from a
// pool that the server refills with the Raw responses it has written.
func Buffer(size int) []byte {
	if b, ok := buffers.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

// HandleRaw registers an operation of the model whose handler encodes its
// own response (to answer with stored documents without decoding them).
func HandleRaw[In any](s *Server, name string, f func(ctx context.Context, in *In) (Raw, error)) {
	op, ok := codebuild.LookupOperation(name)
	if !ok {
		panic("awsjson: operation not in the model: " + name)
	}
	shape, _ := codebuild.LookupShape(op.Input)
	s.handlers[s.prefix+name] = handler{input: shape, call: func(ctx context.Context, raw []byte) (any, error) {
		in := new(In)
		if err := json.Unmarshal(raw, in); err != nil {
			return nil, Errorf(Serialization, "%v", err)
		}
		return f(ctx, in)
	}}
}

// HandleExtension registers an operation that is not in the model (a
// buildbatch extension, such as reading build logs) under its full
// X-Amz-Target. Its input is decoded without model validation.
func HandleExtension[In, Out any](s *Server, target string, f func(ctx context.Context, in *In) (*Out, error)) {
	s.handlers[target] = handler{call: call(f)}
}

func call[In, Out any](f func(ctx context.Context, in *In) (*Out, error)) func(ctx context.Context, raw []byte) (any, error) {
	return func(ctx context.Context, raw []byte) (any, error) {
		in := new(In)
		if err := json.Unmarshal(raw, in); err != nil {
			return nil, Errorf(Serialization, "%v", err)
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return struct{}{}, nil
		}
		return out, nil
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	if r.Method != http.MethodPost {
		s.writeError(w, reqID, &Error{Type: UnknownOperation, Message: "Only POST requests are supported", Status: http.StatusNotFound})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		s.writeError(w, reqID, Errorf(Serialization, "Could not read the request body: %v", err))
		return
	}
	// The request is read: the server's read timeout, which cuts off
	// trickling clients, must not also bound the handler (a log read
	// that waits for output).
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	id, err := s.verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			s.writeError(w, reqID, Errorf(se.Code, "%s", se.Message))
			return
		}
		s.writeError(w, reqID, Errorf(InternalFailure, "authentication failed"))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if target == "" {
		s.writeError(w, reqID, Errorf(UnknownOperation, "Missing X-Amz-Target header"))
		return
	}
	if !validTarget(target) {
		s.writeError(w, reqID, Errorf(UnknownOperation, "Malformed X-Amz-Target header: want Service_Version.Operation, in letters, digits, '_' and '.' (at most %d bytes)", maxTarget))
		return
	}
	h, ok := s.handlers[target]
	name := target
	if !ok {
		if n, ours := strings.CutPrefix(target, s.prefix); ours && s.unknown != nil {
			s.writeError(w, reqID, s.unknown(n))
		} else if !ours {
			s.writeError(w, reqID, Errorf(UnknownOperation, "Unknown operation %s", target))
		} else if _, inModel := codebuild.LookupOperation(n); inModel {
			s.writeError(w, reqID, Errorf(UnknownOperation, "Operation %s is not implemented by buildbatch", name))
		} else {
			s.writeError(w, reqID, Errorf(UnknownOperation, "Unknown operation %s", target))
		}
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if h.input != nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			s.writeError(w, reqID, Errorf(Serialization, "Malformed JSON request body: %v", err))
			return
		}
		if dec.More() {
			s.writeError(w, reqID, Errorf(Serialization, "Malformed JSON request body: trailing data after the JSON object"))
			return
		}
		if m, ok := v.(map[string]any); ok && h.precheck != nil {
			if err := h.precheck(m); err != nil {
				s.writeError(w, reqID, err)
				return
			}
		}
		if err := h.input.Validate(v); err != nil {
			var te *codebuild.TypeError
			if errors.As(err, &te) {
				s.writeError(w, reqID, Errorf(Serialization, "%s", te.Error()))
			} else {
				s.writeError(w, reqID, Errorf(InvalidInput, "%s", err.Error()))
			}
			return
		}
	}
	ctx := WithCaller(r.Context(), Caller{Account: id.Account, Region: id.Region, AccessKey: id.AccessKey, User: id.User, RequestID: reqID})
	out, err := h.call(ctx, body)
	if err != nil {
		var ae *Error
		var un Unavailable
		switch {
		case errors.As(err, &ae):
		case errors.As(err, &un) && un.Unavailable(), errors.Is(err, syscall.ENOSPC):
			s.log.Warn("operation refused: the service cannot write", "operation", name, "request_id", reqID, "err", err)
			ae = &Error{Type: ServiceUnavailable, Message: "buildbatch cannot do this now: " + err.Error() + "; reads still work, and writes do again once there is room", Status: http.StatusServiceUnavailable}
		default:
			s.log.Error("operation failed", "operation", name, "request_id", reqID, "err", err)
			ae = &Error{Type: InternalFailure, Message: "An internal error occurred (request " + reqID + ")", Status: http.StatusInternalServerError}
		}
		s.writeError(w, reqID, ae)
		return
	}
	if raw, ok := out.(Raw); ok {
		s.write(w, reqID, http.StatusOK, raw)
		if cap(raw) <= 8<<20 {
			b := []byte(raw)
			buffers.Put(&b)
		}
		return
	}
	payload, err := json.Marshal(out)
	if err != nil {
		s.log.Error("encoding response", "operation", name, "err", err)
		s.writeError(w, reqID, &Error{Type: InternalFailure, Message: "could not encode the response", Status: http.StatusInternalServerError})
		return
	}
	s.write(w, reqID, http.StatusOK, payload)
}

func (s *Server) write(w http.ResponseWriter, reqID string, status int, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("x-amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(status)
	w.Write(payload)
}

// maxTarget bounds an X-Amz-Target (the longest of the model's is about 50
// bytes).
const maxTarget = 128

// validTarget reports whether t can name an operation.
func validTarget(t string) bool {
	if len(t) > maxTarget {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// MaxMessage bounds an error message: messages may quote the input, and
// never echo kilobytes of it.
const MaxMessage = 1024

// clip shortens a message to MaxMessage bytes, on a rune boundary.
func clip(m string) string {
	// As encoding/json writes it (an invalid byte becomes U+FFFD, 3 bytes),
	// so that MaxMessage bounds what the client reads.
	m = strings.ToValidUTF8(m, "\uFFFD")
	if len(m) <= MaxMessage {
		return m
	}
	const more = "… (message truncated)"
	cut := MaxMessage - len(more)
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return strings.ToValidUTF8(m[:cut], "") + more
}

func (s *Server) writeError(w http.ResponseWriter, reqID string, e *Error) {
	payload, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, clip(e.Message)})
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	s.write(w, reqID, status, payload)
}

func newRequestID() string { return ident.UUID() }
