module moe.test/testfilters

go 1.26
