module gocbench-go

go 1.19

// x/time/rate from Debian's golang-golang-x-time-dev (tools/deps.sh bench),
// so the comparison builds without a module download.
require golang.org/x/time v0.3.0

replace golang.org/x/time => /usr/share/gocode/src/golang.org/x/time
