package pipeline

// SetHalvedHook makes f be called with the new window each time a pacer
// halves its window, until the returned function restores the old hook.
func SetHalvedHook(f func(window int)) (restore func()) {
	old := testHookHalved
	testHookHalved = f
	return func() { testHookHalved = old }
}
