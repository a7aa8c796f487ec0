module moe.local/bench/gogateway

go 1.21
