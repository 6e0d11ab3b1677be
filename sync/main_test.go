package sync_test

import (
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
