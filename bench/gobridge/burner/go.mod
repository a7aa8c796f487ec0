module moe.bench/burner

go 1.26
