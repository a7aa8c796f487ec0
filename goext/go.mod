module moe/goext

go 1.26
