package kvbucket

import "testing"

func TestCheckReplicas(t *testing.T) {
	for n, ok := range map[int]bool{-1: false, 0: true, 1: true, 2: false, 3: true, 4: false, 5: true, 7: false} {
		if err := CheckReplicas(n); (err == nil) != ok {
			t.Errorf("CheckReplicas(%d) = %v, want ok %v", n, err, ok)
		}
	}
}
