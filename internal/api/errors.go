package api

import (
	"errors"

	"github.com/buildbatch/buildbatch/internal/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
