module gocbench-go

go 1.19
