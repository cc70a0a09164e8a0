package cache

import "testing"

func FuzzUnmarshalOp(f *testing.F) {
	f.Add(op{kind: opRename, ino: 4, key: "a/", key2: "b/"}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := unmarshalOp(b)
		if err != nil {
			return
		}
		again, err := unmarshalOp(o.marshal())
		if err != nil || again != o {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", o, again, err)
		}
	})
}
