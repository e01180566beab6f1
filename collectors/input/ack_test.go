package input

import (
	"context"
	"errors"
	"testing"
)

// TestDeferredAck: the wait runs on the first Wait and its outcome sticks;
// a wait cut short by its context is not an outcome, and runs again.
func TestDeferredAck(t *testing.T) {
	errKafka := errors.New("delivery failed")
	cases := []struct {
		name     string
		outcomes []error // what successive runs of wait return
		want     error   // the Ack's outcome
		runs     int     // how often wait runs over three Waits
	}{
		{"acknowledged", []error{nil}, nil, 1},
		{"failed", []error{errKafka}, errKafka, 1},
		{"interrupted, then acknowledged", []error{context.Canceled, nil}, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			a := Deferred(func(ctx context.Context) error {
				err := tc.outcomes[runs]
				runs++
				return err
			})
			select {
			case <-a.Done():
				t.Fatal("Done before anyone waited")
			default:
			}
			for i := 0; i < 3; i++ {
				ctx := context.Background()
				if i == 0 && errors.Is(tc.outcomes[0], context.Canceled) {
					c, cancel := context.WithCancel(ctx)
					cancel()
					ctx = c
				}
				err := a.Wait(ctx)
				if i > 0 && !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
					t.Fatalf("Wait #%d = %v, want %v", i+1, err, tc.want)
				}
			}
			if runs != tc.runs {
				t.Errorf("wait ran %d times, want %d", runs, tc.runs)
			}
			select {
			case <-a.Done():
			default:
				t.Error("Done not closed once the outcome is known")
			}
		})
	}
}
