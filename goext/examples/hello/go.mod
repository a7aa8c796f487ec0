module moe.example/hello

go 1.26
