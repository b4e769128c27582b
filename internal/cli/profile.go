package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/buildbatch/buildbatch/internal/config"
)

// parseINI reads the AWS shared config and credentials format: [section]
// headers, key = value lines, # and ; comment lines. Indented lines after a
// key (nested settings such as "s3 =\n  max_concurrent_requests = 10") are
// skipped. A section seen twice is merged; the later value of a key wins.
// Lines before the first section are ignored.
func parseINI(data string) map[string]map[string]string {
	sections := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				cur = nil
				continue
			}
			name := strings.Join(strings.Fields(trimmed[1:end]), " ")
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			cur = sections[name]
			continue
		}
		if cur == nil || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		cur[k] = strings.TrimSpace(v)
	}
	return sections
}

// settings is where a command finds the server and signs its requests.
type settings struct {
	endpoint, region   string
	key, secret, token string
}

// resolveSettings does as the aws cli does for the flags, the environment
// and the shared files of profile $AWS_PROFILE (default "default"):
// endpoint from --endpoint-url, $AWS_ENDPOINT_URL_CODEBUILD,
// $AWS_ENDPOINT_URL, the profile's endpoint_url, else the default listen
// address; region from --region, $AWS_REGION, $AWS_DEFAULT_REGION, the
// profile's region, else us-east-1; credentials from $AWS_ACCESS_KEY_ID and
// $AWS_SECRET_ACCESS_KEY, else the credentials file's section, else the
// config file's profile, else test/test (fine in local mode).
func resolveSettings(endpointFlag, regionFlag string, getenv func(string) string) (settings, error) {
	name := getenv("AWS_PROFILE")
	explicit := name != ""
	if name == "" {
		name = "default"
	}
	home, _ := os.UserHomeDir()
	cfgPath := firstNonEmpty(getenv("AWS_CONFIG_FILE"), filepath.Join(home, ".aws", "config"))
	credPath := firstNonEmpty(getenv("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(home, ".aws", "credentials"))
	cfgFile, err := readINI(cfgPath)
	if err != nil {
		return settings{}, err
	}
	credFile, err := readINI(credPath)
	if err != nil {
		return settings{}, err
	}
	prof := cfgFile["profile "+name]
	if name == "default" && prof == nil {
		prof = cfgFile["default"]
	}
	creds := credFile[name]
	if explicit && prof == nil && creds == nil {
		return settings{}, fmt.Errorf("the profile %q is in neither %s nor %s", name, cfgPath, credPath)
	}
	s := settings{
		endpoint: firstNonEmpty(endpointFlag, getenv("AWS_ENDPOINT_URL_CODEBUILD"), getenv("AWS_ENDPOINT_URL"), prof["endpoint_url"], "http://"+config.DefaultListen),
		region:   firstNonEmpty(regionFlag, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), prof["region"], "us-east-1"),
	}
	s.endpoint = strings.TrimRight(s.endpoint, "/")
	switch {
	case getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "":
		s.key, s.secret, s.token = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	case creds["aws_access_key_id"] != "":
		s.key, s.secret, s.token = creds["aws_access_key_id"], creds["aws_secret_access_key"], creds["aws_session_token"]
	case prof["aws_access_key_id"] != "":
		s.key, s.secret, s.token = prof["aws_access_key_id"], prof["aws_secret_access_key"], prof["aws_session_token"]
	default:
		s.key, s.secret = "test", "test"
	}
	return s, nil
}

// readINI parses a shared file; a missing one is empty.
func readINI(path string) (map[string]map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return map[string]map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseINI(string(data)), nil
}
