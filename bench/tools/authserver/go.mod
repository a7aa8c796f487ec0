module moe.local/bench/authserver

go 1.21
