module github.com/go-dockertools/dockertools

go 1.26
