module moe/tests/integration

go 1.26
