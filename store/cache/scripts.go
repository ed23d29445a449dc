package cache

import (
	_ "embed"

	"github.com/rediware/rediware/store"
)

var (
	//go:embed replace.lua
	replaceLua    string
	replaceScript = store.NewScript(replaceLua)

	//go:embed unlock.lua
	unlockLua    string
	unlockScript = store.NewScript(unlockLua)

	//go:embed tagadd.lua
	tagAddLua    string
	tagAddScript = store.NewScript(tagAddLua)

	//go:embed taginvalidate.lua
	tagInvalidateLua    string
	tagInvalidateScript = store.NewScript(tagInvalidateLua)
)
