package sigv4

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// File is a set of credentials read from a file in the AWS shared-credentials
// format: INI sections holding aws_access_key_id, aws_secret_access_key,
// aws_account_id and, optionally, aws_session_token.
type File struct {
	keys map[string]Secret
}

var _ Keys = (*File)(nil)

// Lookup implements Keys.
func (f *File) Lookup(id string) (Secret, bool) {
	s, ok := f.keys[id]
	return s, ok
}

// Len is the number of access keys.
func (f *File) Len() int { return len(f.keys) }

// LoadFile reads a credentials file.
func LoadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := ParseCredentials(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ParseCredentials parses the shared-credentials format.
func ParseCredentials(r io.Reader) (*File, error) {
	type section struct {
		name string
		line int
		vals map[string]string
	}
	var sections []*section
	var cur *section
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: malformed section header %q", n, line)
			}
			cur = &section{name: strings.TrimSpace(line[1 : len(line)-1]), line: n, vals: map[string]string{}}
			sections = append(sections, cur)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected key = value, got %q", n, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q is outside any [section]", n, strings.TrimSpace(k))
		}
		cur.vals[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	f := &File{keys: map[string]Secret{}}
	for _, s := range sections {
		id, secret, account := s.vals["aws_access_key_id"], s.vals["aws_secret_access_key"], s.vals["aws_account_id"]
		if id == "" || secret == "" {
			return nil, fmt.Errorf("line %d: section [%s] needs aws_access_key_id and aws_secret_access_key", s.line, s.name)
		}
		if account != "" && !twelveDigits.MatchString(account) {
			return nil, fmt.Errorf("line %d: section [%s]: aws_account_id must be 12 digits, got %q", s.line, s.name, account)
		}
		if _, dup := f.keys[id]; dup {
			return nil, fmt.Errorf("line %d: access key %s appears twice", s.line, id)
		}
		f.keys[id] = Secret{Name: s.name, SecretAccessKey: secret, SessionToken: s.vals["aws_session_token"], Account: account}
	}
	if len(f.keys) == 0 {
		return nil, fmt.Errorf("no credentials found")
	}
	return f, nil
}
