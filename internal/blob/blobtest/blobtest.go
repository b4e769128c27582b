// Package blobtest is the conformance suite of blob.Store: every
// implementation runs Run on itself, so that they all behave alike.
//
// The semantics it enforces (see package blob):
//
//   - Keys are cleaned paths: "/a//b/./c/" is the object "a/b/c"; a key
//     that climbs out of its bucket ("..") is invalid; Put of an empty key
//     is an error, Open of one ErrNotFound.
//   - Put replaces an object whole and atomically: a Put that fails (its
//     reader fails, its context ends) leaves the previous object, or none.
//   - Open of a missing object — missing key, missing bucket, a folder
//     that is no object, a key under an object, an empty key — is an
//     error wrapping blob.ErrNotFound.
//   - List(prefix) returns the object named prefix, if any, and every
//     object whose key begins with prefix+"/", with prefix cleaned like a
//     key (so a trailing / makes no difference, and "" is the whole
//     bucket). A key that merely begins with the same characters is not
//     under it: "dir" covers "dir/x" but not "dir2/x", "dirx" or
//     "dir.zip". Keys come back cleaned, without duplicates, sorted in
//     byte order (sort.Strings); no key is a nil or empty slice and no
//     error, and so is a bucket never written to.
//   - Delete(prefix) removes exactly the objects List(prefix) returns
//     ("" empties the bucket); nothing there is no error; other buckets
//     and siblings sharing a string prefix stay.
//   - Buckets are independent; an invalid bucket name ("", "a/b", ".",
//     "..") is an error in every method.
//   - Every method fails with an error wrapping ctx's when ctx is done
//     before it starts; Put stops when ctx ends while it reads.
//   - The methods are safe for concurrent use: concurrent Puts of distinct
//     keys all land, concurrent Puts of one key leave one of them whole.
//
// Whether a key can be both an object and a folder ("a/b" and "a/b/c") is
// left open: the filesystem store cannot, S3 can.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildbatch/buildbatch/internal/blob"
)

// Run runs the suite, as the subtests of one subtest "blobtest", and
// returns when they have all ended. open returns an empty store; it is
// called once for each subtest, from parallel subtests, so it must be safe
// for concurrent use.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("blobtest", func(t *testing.T) { run(t, open) })
}

func run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("RoundTrip", func(t *testing.T) { t.Parallel(); testRoundTrip(t, open(t)) })
	t.Run("Overwrite", func(t *testing.T) { t.Parallel(); testOverwrite(t, open(t)) })
	t.Run("KeyCleaning", func(t *testing.T) { t.Parallel(); testKeyCleaning(t, open(t)) })
	t.Run("OpenMissing", func(t *testing.T) { t.Parallel(); testOpenMissing(t, open(t)) })
	t.Run("Stat", func(t *testing.T) { t.Parallel(); testStat(t, open(t)) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testList(t, open(t)) })
	t.Run("ListEmpty", func(t *testing.T) { t.Parallel(); testListEmpty(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { t.Parallel(); testDelete(t, open) })
	t.Run("InvalidNames", func(t *testing.T) { t.Parallel(); testInvalidNames(t, open(t)) })
	t.Run("FailedPut", func(t *testing.T) { t.Parallel(); testFailedPut(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); testConcurrent(t, open(t)) })
	t.Run("Canceled", func(t *testing.T) { t.Parallel(); testCanceled(t, open(t)) })
}

const (
	bucket = "bucket-one"
	other  = "bucket-two"
)

var ctx = context.Background()

// Bytes returns n pseudo-random bytes, the same for the same seed.
func Bytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// onlyReader hides every method of r but Read (io.Seeker, io.ReaderAt,
// io.WriterTo), as a pipe or an HTTP body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// MustPut puts data at bucket/key, failing the test on error.
func MustPut(t testing.TB, s blob.Store, bucket, key string, data []byte) {
	t.Helper()
	if err := s.Put(ctx, bucket, key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q, %q): %v", bucket, key, err)
	}
}

// Read returns the object at bucket/key, failing the test on error.
func Read(t testing.TB, s blob.Store, bucket, key string) []byte {
	t.Helper()
	rc, err := s.Open(ctx, bucket, key)
	if err != nil {
		t.Fatalf("Open(%q, %q): %v", bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q %q: %v", bucket, key, err)
	}
	return b
}

// MustList lists bucket/prefix, failing the test on error.
func MustList(t testing.TB, s blob.Store, bucket, prefix string) []string {
	t.Helper()
	keys, err := s.List(ctx, bucket, prefix)
	if err != nil {
		t.Fatalf("List(%q, %q): %v", bucket, prefix, err)
	}
	return keys
}

func sameKeys(got, want []string) bool {
	return len(got) == len(want) && (len(got) == 0 || slices.Equal(got, want))
}

func checkContent(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (%.40q…), want %d bytes (%.40q…)", what, len(got), got, len(want), want)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	big := Bytes(1, 5*1024*1024+17)
	for _, tc := range []struct {
		name, key string
		data      []byte
		seekable  bool
	}{
		{"empty", "empty", nil, true},
		{"empty from a stream", "empty-stream", nil, false},
		{"text", "dir/hello.txt", []byte("hello, world\n"), true},
		{"every byte value", "bin/all.bin", allBytes, true},
		{"invalid UTF-8 and NULs", "bin/junk", []byte{0, 0xff, 0xfe, 0, 0xc3, 0x28, '\n', 0}, false},
		{"5 MB", "big/five.bin", big, true},
		{"5 MB from a stream", "big/five-stream.bin", big, false},
		{"deep key", "a/b/c/d/e/f/g/h/i/j/k.txt", []byte("deep"), true},
		{"spaces", "with space/file name.txt", []byte("spaces"), true},
		{"unicode", "unicode/héllo wörld/日本語.txt", []byte("unicode"), true},
		{"emoji", "unicode/🙂", []byte("emoji"), false},
		{"punctuation", "chars/a+b=c&d;e,f@g!h'(i)*~$", []byte("punct"), true},
		{"percent, question mark, hash", "chars/100% ?x#y", []byte("url"), true},
		{"backslash", `chars/back\slash`, []byte("backslash"), true},
		{"leading dot", "dots/.hidden", []byte("hidden"), true},
		{"dots in a name", "dots/a..b...", []byte("dots"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.data)
			if !tc.seekable {
				r = onlyReader{r}
			}
			if err := s.Put(ctx, bucket, tc.key, r); err != nil {
				t.Fatalf("Put(%q): %v", tc.key, err)
			}
			checkContent(t, "Open("+tc.key+")", Read(t, s, bucket, tc.key), tc.data)
			if keys := MustList(t, s, bucket, tc.key); !slices.Equal(keys, []string{tc.key}) {
				t.Errorf("List(%q) = %q, want just the key", tc.key, keys)
			}
		})
	}
	// A reader closed before its end leaves nothing behind that matters.
	rc, err := s.Open(ctx, bucket, "big/five.bin")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	checkContent(t, "first bytes", head, big[:10])
	if err := rc.Close(); err != nil {
		t.Errorf("Close after a partial read: %v", err)
	}
	// The same key in another bucket is another object.
	if _, err := s.Open(ctx, other, "dir/hello.txt"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open in another bucket: err = %v, want ErrNotFound", err)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	MustPut(t, s, bucket, "k", Bytes(2, 100_000))
	MustPut(t, s, bucket, "k", []byte("short"))
	checkContent(t, "after a shorter overwrite", Read(t, s, bucket, "k"), []byte("short"))
	MustPut(t, s, bucket, "k", nil)
	checkContent(t, "after an empty overwrite", Read(t, s, bucket, "k"), nil)
	long := Bytes(3, 300_000)
	if err := s.Put(ctx, bucket, "k", onlyReader{bytes.NewReader(long)}); err != nil {
		t.Fatal(err)
	}
	checkContent(t, "after a longer overwrite", Read(t, s, bucket, "k"), long)
	if keys := MustList(t, s, bucket, ""); !slices.Equal(keys, []string{"k"}) {
		t.Errorf("List after overwrites = %q, want [k]", keys)
	}
}

func testKeyCleaning(t *testing.T, s blob.Store) {
	MustPut(t, s, bucket, "/clean//me/./x/", []byte("x"))
	MustPut(t, s, bucket, "clean/me/gone/../y", []byte("y"))
	if keys, want := MustList(t, s, bucket, ""), []string{"clean/me/x", "clean/me/y"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	for _, k := range []string{"clean/me/x", "/clean/me/x", "clean//me/x/", "./clean/me/x", "clean/other/../me/x"} {
		checkContent(t, "Open("+k+")", Read(t, s, bucket, k), []byte("x"))
	}
	// Put of an alias replaces the object.
	MustPut(t, s, bucket, "clean/me//x", []byte("x2"))
	checkContent(t, "after Put of an alias", Read(t, s, bucket, "clean/me/x"), []byte("x2"))
	for _, p := range []string{"clean/me", "/clean/me/", "clean//me", "clean/./me", "./clean/me//"} {
		if keys, want := MustList(t, s, bucket, p), []string{"clean/me/x", "clean/me/y"}; !slices.Equal(keys, want) {
			t.Errorf("List(%q) = %q, want %q", p, keys, want)
		}
	}
	if err := s.Delete(ctx, bucket, "/clean//me/x/"); err != nil {
		t.Fatal(err)
	}
	if keys, want := MustList(t, s, bucket, ""), []string{"clean/me/y"}; !slices.Equal(keys, want) {
		t.Errorf("List after Delete of an alias = %q, want %q", keys, want)
	}
}

func testOpenMissing(t *testing.T, s blob.Store) {
	MustPut(t, s, bucket, "dir/file.txt", []byte("x"))
	MustPut(t, s, bucket, "top.txt", []byte("x"))
	for _, tc := range []struct{ name, bucket, key string }{
		{"missing key", bucket, "nope"},
		{"missing key in a folder", bucket, "dir/nope"},
		{"missing folder", bucket, "nodir/file.txt"},
		{"string prefix of a key", bucket, "dir/file"},
		{"key extending a key", bucket, "dir/file.txt2"},
		{"folder", bucket, "dir"},
		{"folder with a slash", bucket, "dir/"},
		{"under an object", bucket, "top.txt/x"},
		{"empty key", bucket, ""},
		{"root key", bucket, "/"},
		{"missing bucket", "no-such-bucket", "dir/file.txt"},
		{"other bucket", other, "top.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := s.Open(ctx, tc.bucket, tc.key)
			if err == nil {
				rc.Close()
				t.Fatalf("Open(%q, %q) succeeded", tc.bucket, tc.key)
			}
			if !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Open(%q, %q): %v, want ErrNotFound", tc.bucket, tc.key, err)
			}
		})
	}
}

// listFixture is the objects of the List and Delete tests: in bucket,
// and a few of them in other.
var listFixture = []string{
	"top.txt",
	"dir/one.txt",
	"dir/two.txt",
	"dir/sub/three.txt",
	"dir/sub/deeper/four.bin",
	"dir2/x",
	"dirx",
	"dir.zip",
	"dir-a/y",
	"dir a/z",
	"with space/file name.txt",
	"unicode/héllo/日本.txt",
	"unicode/emoji-🙂",
	"unicode/zzz",
	"chars/a+b=c&d",
	"chars/100% ?x#y",
}

var otherFixture = []string{"top.txt", "dir/one.txt", "dir/other.txt", "elsewhere/z"}

func putFixture(t *testing.T, s blob.Store) {
	t.Helper()
	for i, k := range listFixture {
		MustPut(t, s, bucket, k, []byte(fmt.Sprintf("%d:%s", i, k)))
	}
	for _, k := range otherFixture {
		MustPut(t, s, other, k, []byte("other:"+k))
	}
}

// Under reports whether key is under prefix in the sense of blob.Store's
// List and Delete; key is a clean key.
func Under(prefix, key string) bool {
	p := strings.TrimPrefix(path.Clean("/"+prefix), "/")
	return p == "" || key == p || strings.HasPrefix(key, p+"/")
}

func expected(keys []string, prefix string) []string {
	var want []string
	for _, k := range keys {
		if Under(prefix, k) {
			want = append(want, k)
		}
	}
	sort.Strings(want)
	return want
}

var listCases = []struct {
	prefix string
	want   []string // nil: none
}{
	{"", nil},  // every key; filled in from the fixture
	{"/", nil}, // the same
	{"dir", []string{"dir/one.txt", "dir/sub/deeper/four.bin", "dir/sub/three.txt", "dir/two.txt"}},
	{"dir/", []string{"dir/one.txt", "dir/sub/deeper/four.bin", "dir/sub/three.txt", "dir/two.txt"}},
	{"dir/sub", []string{"dir/sub/deeper/four.bin", "dir/sub/three.txt"}},
	{"dir/sub/", []string{"dir/sub/deeper/four.bin", "dir/sub/three.txt"}},
	{"//dir//sub/./", []string{"dir/sub/deeper/four.bin", "dir/sub/three.txt"}},
	{"dir/sub/deeper", []string{"dir/sub/deeper/four.bin"}},
	{"dir/one.txt", []string{"dir/one.txt"}},
	{"dir/one.txt/", []string{"dir/one.txt"}},
	{"top.txt", []string{"top.txt"}},
	{"dir/one", nil},
	{"dir/o", nil},
	{"di", nil},
	{"dir2", []string{"dir2/x"}},
	{"./dir/../dir2/", []string{"dir2/x"}},
	{"dirx", []string{"dirx"}},
	{"dir a", []string{"dir a/z"}},
	{"with space", []string{"with space/file name.txt"}},
	{"with space/file name.txt", []string{"with space/file name.txt"}},
	{"unicode", []string{"unicode/emoji-🙂", "unicode/héllo/日本.txt", "unicode/zzz"}},
	{"unicode/héllo", []string{"unicode/héllo/日本.txt"}},
	{"chars", []string{"chars/100% ?x#y", "chars/a+b=c&d"}},
	{"chars/100% ?x#y", []string{"chars/100% ?x#y"}},
	{"missing", nil},
	{"missing/", nil},
	{"top.txt/x", nil},
	{"dir/sub/three.txt/deeper", nil},
}

func testList(t *testing.T, s blob.Store) {
	putFixture(t, s)
	all := MustList(t, s, bucket, "")
	if want := expected(listFixture, ""); !slices.Equal(all, want) {
		t.Fatalf("List(\"\") = %q, want %q", all, want)
	}
	if !sort.StringsAreSorted(all) {
		t.Errorf("List(\"\") is not sorted: %q", all)
	}
	for _, tc := range listCases {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			want := tc.want
			if strings.Trim(tc.prefix, "/") == "" {
				want = expected(listFixture, "")
			} else if ref := expected(listFixture, tc.prefix); !sameKeys(ref, want) {
				t.Fatalf("the suite is wrong: %q: Under gives %q, the table %q", tc.prefix, ref, want)
			}
			got := MustList(t, s, bucket, tc.prefix)
			if !sameKeys(got, want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, want)
			}
		})
	}
	if got, want := MustList(t, s, other, ""), expected(otherFixture, ""); !slices.Equal(got, want) {
		t.Errorf("List of the other bucket = %q, want %q", got, want)
	}
	if got, want := MustList(t, s, other, "dir"), []string{"dir/one.txt", "dir/other.txt"}; !slices.Equal(got, want) {
		t.Errorf("List(other, dir) = %q, want %q", got, want)
	}
	// Byte order, not a locale's or a walk's: '-' (0x2d), '.' and ' '
	// sort before '/' (0x2f), so "dir a/z", "dir-a/y" and "dir.zip" come
	// before "dir/…".
	i := func(k string) int { return slices.Index(all, k) }
	if !(i("dir a/z") < i("dir-a/y") && i("dir-a/y") < i("dir.zip") && i("dir.zip") < i("dir/one.txt") && i("dir/two.txt") < i("dir2/x")) {
		t.Errorf("List(\"\") is not in byte order: %q", all)
	}
	// Many keys in one folder: more than a page of some stores.
	var many []string
	for n := range 1100 {
		k := fmt.Sprintf("many/%05d", n)
		many = append(many, k)
	}
	putMany(t, s, bucket, many)
	if got := MustList(t, s, bucket, "many"); !slices.Equal(got, many) {
		t.Errorf("List(many): %d keys, want %d", len(got), len(many))
	}
}

// putMany puts empty objects at keys, a few at a time.
func putMany(t *testing.T, s blob.Store, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.Put(ctx, bucket, k, bytes.NewReader(nil)); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testListEmpty(t *testing.T, s blob.Store) {
	for _, b := range []string{bucket, "never-written"} {
		for _, p := range []string{"", "/", "dir", "dir/"} {
			if keys := MustList(t, s, b, p); len(keys) != 0 {
				t.Errorf("List(%q, %q) of an empty store = %q", b, p, keys)
			}
		}
	}
	// Emptied again.
	MustPut(t, s, bucket, "dir/x", []byte("x"))
	if err := s.Delete(ctx, bucket, "dir/x"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "dir", "dir/x"} {
		if keys := MustList(t, s, bucket, p); len(keys) != 0 {
			t.Errorf("List(%q) after its only object was deleted = %q", p, keys)
		}
	}
}

func testDelete(t *testing.T, open func(t *testing.T) blob.Store) {
	for _, prefix := range []string{
		"dir/one.txt", "dir", "dir/", "/dir//", "dir/sub", "dir/sub/deeper/four.bin",
		"dir/one", "di", "dirx", "dir.zip", "with space", "unicode/héllo/日本.txt", "chars",
		"missing", "missing/deep/key", "top.txt/x", "", "/",
	} {
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			t.Parallel()
			s := open(t)
			putFixture(t, s)
			before := MustList(t, s, bucket, "")
			if err := s.Delete(ctx, bucket, prefix); err != nil {
				t.Fatalf("Delete(%q): %v", prefix, err)
			}
			var want []string // what is left
			for _, k := range before {
				if !Under(prefix, k) {
					want = append(want, k)
				}
			}
			if got := MustList(t, s, bucket, ""); !sameKeys(got, want) {
				t.Errorf("after Delete(%q): %q left, want %q", prefix, got, want)
			}
			for _, k := range want {
				checkContent(t, "kept "+k, Read(t, s, bucket, k), []byte(fmt.Sprintf("%d:%s", slices.Index(listFixture, k), k)))
			}
			for _, k := range before {
				if Under(prefix, k) {
					if _, err := s.Open(ctx, bucket, k); !errors.Is(err, blob.ErrNotFound) {
						t.Errorf("Open(%q) after Delete(%q): %v, want ErrNotFound", k, prefix, err)
					}
				}
			}
			if got, want := MustList(t, s, other, ""), expected(otherFixture, ""); !slices.Equal(got, want) {
				t.Errorf("the other bucket after Delete(%q) = %q, want %q", prefix, got, want)
			}
			// Deleting again is no error, and the keys can be written again.
			if err := s.Delete(ctx, bucket, prefix); err != nil {
				t.Errorf("second Delete(%q): %v", prefix, err)
			}
			for _, k := range before {
				if Under(prefix, k) {
					MustPut(t, s, bucket, k, []byte("again"))
					checkContent(t, "rewritten "+k, Read(t, s, bucket, k), []byte("again"))
					break
				}
			}
		})
	}
	t.Run("missing bucket", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, p := range []string{"", "x", "x/"} {
			if err := s.Delete(ctx, "never-written", p); err != nil {
				t.Errorf("Delete(never-written, %q): %v", p, err)
			}
		}
	})
	t.Run("many", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var many []string
		for n := range 2100 { // more than two batches of 1000 (S3's DeleteObjects)
			many = append(many, fmt.Sprintf("many/%02d/%05d", n%7, n))
		}
		putMany(t, s, bucket, many)
		MustPut(t, s, bucket, "many.txt", []byte("sibling"))
		if err := s.Delete(ctx, bucket, "many"); err != nil {
			t.Fatal(err)
		}
		if got := MustList(t, s, bucket, ""); !slices.Equal(got, []string{"many.txt"}) {
			t.Errorf("after Delete(many): %d keys left (%.5q…), want [many.txt]", len(got), got)
		}
	})
}

func testInvalidNames(t *testing.T, s blob.Store) {
	for _, b := range []string{"", "a/b", `a\b`, ".", ".."} {
		if err := s.Put(ctx, b, "k", strings.NewReader("x")); err == nil {
			t.Errorf("Put to bucket %q succeeded", b)
		}
		if rc, err := s.Open(ctx, b, "k"); err == nil {
			rc.Close()
			t.Errorf("Open in bucket %q succeeded", b)
		}
		if _, err := s.List(ctx, b, ""); err == nil {
			t.Errorf("List of bucket %q succeeded", b)
		}
		if err := s.Delete(ctx, b, ""); err == nil {
			t.Errorf("Delete in bucket %q succeeded", b)
		}
	}
	for _, k := range []string{"", "/", "..", "../x/..", "a/../.."} {
		if err := s.Put(ctx, bucket, k, strings.NewReader("x")); err == nil {
			t.Errorf("Put of key %q succeeded", k)
		}
	}
	for _, k := range []string{"..", "../..", "a/../.."} {
		if _, err := s.List(ctx, bucket, k); err == nil {
			t.Errorf("List(%q) succeeded", k)
		}
		if err := s.Delete(ctx, bucket, k); err == nil {
			t.Errorf("Delete(%q) succeeded", k)
		}
	}
	if keys := MustList(t, s, bucket, ""); len(keys) != 0 {
		t.Errorf("invalid Puts left %q", keys)
	}
}

var errBoom = errors.New("boom")

// failingReader gives n bytes of data, then fails with errBoom.
type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBoom
	}
	p = p[:min(len(p), f.n, len(f.data))]
	copy(p, f.data)
	f.data, f.n = f.data[len(p):], f.n-len(p)
	return len(p), nil
}

// cancelingReader gives data, canceling its context after the first
// after bytes.
type cancelingReader struct {
	data   []byte
	after  int
	cancel func()
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	if c.after -= n; c.after <= 0 {
		c.cancel()
	}
	return n, nil
}

func testFailedPut(t *testing.T, s blob.Store) {
	data := Bytes(4, 3*1024*1024)
	MustPut(t, s, bucket, "kept", []byte("before"))
	t.Run("reader fails", func(t *testing.T) {
		for _, key := range []string{"kept", "new"} {
			err := s.Put(ctx, bucket, key, &failingReader{data: data, n: 1024 * 1024})
			if !errors.Is(err, errBoom) {
				t.Errorf("Put(%q) of a failing reader: %v, want its error", key, err)
			}
		}
		checkContent(t, "object after a failed Put", Read(t, s, bucket, "kept"), []byte("before"))
		if _, err := s.Open(ctx, bucket, "new"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("a failed Put of a new key left an object: %v", err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		for _, key := range []string{"kept", "new"} {
			c, cancel := context.WithCancel(ctx)
			err := s.Put(c, bucket, key, &cancelingReader{data: data, after: 1024 * 1024, cancel: cancel})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put(%q) whose context ends: %v, want context.Canceled", key, err)
			}
		}
		checkContent(t, "object after a canceled Put", Read(t, s, bucket, "kept"), []byte("before"))
		if _, err := s.Open(ctx, bucket, "new"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("a canceled Put of a new key left an object: %v", err)
		}
	})
	if keys := MustList(t, s, bucket, ""); !slices.Equal(keys, []string{"kept"}) {
		t.Errorf("failed Puts left %q", keys)
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	var keys []string
	for i := range n {
		k := fmt.Sprintf("shared/dir/%02d/obj", i)
		if i%2 == 0 {
			k = fmt.Sprintf("shared/dir/flat-%02d", i)
		}
		keys = append(keys, k)
		wg.Go(func() {
			if err := s.Put(ctx, bucket, k, onlyReader{bytes.NewReader(Bytes(uint64(i), 64*1024+i))}); err != nil {
				errs <- err
			}
		})
		// And everyone writes the same key.
		wg.Go(func() {
			if err := s.Put(ctx, bucket, "same", bytes.NewReader(Bytes(100+uint64(i), 200_000))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sort.Strings(keys)
	if got := MustList(t, s, bucket, "shared"); !slices.Equal(got, keys) {
		t.Errorf("List after concurrent Puts = %q, want %q", got, keys)
	}
	for i := range n {
		k := fmt.Sprintf("shared/dir/%02d/obj", i)
		if i%2 == 0 {
			k = fmt.Sprintf("shared/dir/flat-%02d", i)
		}
		checkContent(t, k, Read(t, s, bucket, k), Bytes(uint64(i), 64*1024+i))
	}
	same := Read(t, s, bucket, "same")
	whole := false
	for i := range n {
		if bytes.Equal(same, Bytes(100+uint64(i), 200_000)) {
			whole = true
		}
	}
	if !whole {
		t.Errorf("concurrent Puts of one key left %d bytes that are none of them", len(same))
	}
	// Reads and lists alongside writes and deletes.
	wg = sync.WaitGroup{}
	for i := range 8 {
		wg.Go(func() {
			k := fmt.Sprintf("mixed/%d", i)
			if err := s.Put(ctx, bucket, k, strings.NewReader(k)); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.List(ctx, bucket, "mixed"); err != nil {
				t.Error(err)
			}
			rc, err := s.Open(ctx, bucket, k)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(b) != k {
				t.Errorf("%s: read %q, %v", k, b, err)
			}
			if err := s.Delete(ctx, bucket, k); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if keys := MustList(t, s, bucket, "mixed"); len(keys) != 0 {
		t.Errorf("left after concurrent Delete: %q", keys)
	}
}

func testCanceled(t *testing.T, s blob.Store) {
	MustPut(t, s, bucket, "k", []byte("before"))
	c, cancel := context.WithCancel(ctx)
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", what, err)
		}
	}
	check("Put", s.Put(c, bucket, "k", strings.NewReader("after")))
	check("Put of a new key", s.Put(c, bucket, "new", strings.NewReader("new")))
	rc, err := s.Open(c, bucket, "k")
	if err == nil {
		rc.Close()
	}
	check("Open", err)
	_, err = s.List(c, bucket, "")
	check("List", err)
	check("Delete", s.Delete(c, bucket, "k"))
	checkContent(t, "object after canceled calls", Read(t, s, bucket, "k"), []byte("before"))
	if keys := MustList(t, s, bucket, ""); !slices.Equal(keys, []string{"k"}) {
		t.Errorf("canceled calls left %q", keys)
	}
}

// testStat: Stat gives an object's size and a time of its last write
// (within a minute of the clock: S3 servers keep whole seconds); what Open
// cannot open, Stat does not describe.
func testStat(t *testing.T, s blob.Store) {
	before := time.Now()
	data := Bytes(7, 3000)
	MustPut(t, s, bucket, "dir/obj", data)
	MustPut(t, s, bucket, "empty", nil)
	for key, size := range map[string]int64{"dir/obj": 3000, "/dir//obj": 3000, "empty": 0} {
		info, err := s.Stat(ctx, bucket, key)
		if err != nil || info.Size != size || info.Modified.Before(before.Add(-time.Minute)) || info.Modified.After(time.Now().Add(time.Minute)) {
			t.Errorf("Stat(%q) = %+v, %v; want size %d, modified about now", key, info, err, size)
		}
	}
	MustPut(t, s, bucket, "dir/obj", data[:10])
	if info, err := s.Stat(ctx, bucket, "dir/obj"); err != nil || info.Size != 10 {
		t.Errorf("Stat after an overwrite = %+v, %v", info, err)
	}
	for _, key := range []string{"missing", "dir", "dir/obj/below", ""} {
		if _, err := s.Stat(ctx, bucket, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
	}
	if _, err := s.Stat(ctx, other, "dir/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat in another bucket = %v, want ErrNotFound", err)
	}
}
