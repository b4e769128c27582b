package api

import (
	"encoding/base64"
	"encoding/json"

	"github.com/buildbatch/buildbatch/internal/store"
)

// pageToken is what an opaque nextToken carries: the listing it belongs to
// (so a token is not replayed against another listing) and where it stopped.
type pageToken struct {
	List   string       `json:"l"`
	Cursor store.Cursor `json:"c"`
}

func encodeToken(list string, c *store.Cursor) *string {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(pageToken{List: list, Cursor: *c})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func decodeToken(list string, tok *string) (*store.Cursor, error) {
	if tok == nil || *tok == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	var t pageToken
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.List != list {
		return nil, invalid("Invalid pagination token")
	}
	return &t.Cursor, nil
}
