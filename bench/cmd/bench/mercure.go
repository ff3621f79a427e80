package main

import (
	"context"
	"errors"
	"os"
)

// mercureTarget starts the Mercure baseline (bench/mercure, its own module).
func mercureTarget(o options) (fanTarget, func(), error) {
	if _, err := os.Stat(o.mercureBin); err != nil {
		return fanTarget{}, nil, errors.New("binary " + o.mercureBin + " missing")
	}
	return fanTarget{}, nil, errors.New("todo")
}

func benchBrowser(ctx context.Context, e *benchEnv, res *results) error {
	return errors.New("not implemented in this run")
}
