package rows_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/llmbatch/llmbatch/io/rows"
)

func ExampleNewCSVReader() {
	in := "id,text\n1,\"Great, thanks\"\n2,too,many\n3,ok\n"
	r := rows.NewCSVReader(strings.NewReader(in), "reviews.csv", ',')
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		var bad *rows.RowError
		if errors.As(err, &bad) {
			fmt.Println("skip:", bad)
			continue
		}
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		fmt.Printf("row %d (line %d): %s\n", row.Index, row.Line, row.Fields["text"])
	}
	// Output:
	// row 0 (line 2): Great, thanks
	// skip: reviews.csv:3: wrong number of fields: got 3, want 2
	// row 2 (line 4): ok
}

func ExampleNewJSONLReader() {
	in := "{\"custom_id\":\"a\",\"n\":1.50}\n\n{oops}\n"
	r := rows.NewJSONLReader(strings.NewReader(in), "batch.jsonl")
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		var bad *rows.RowError
		if errors.As(err, &bad) {
			fmt.Println("skip:", bad)
			continue
		}
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		fmt.Println(row.Line, row.Fields["custom_id"], row.Fields["n"])
	}
	// Output:
	// 1 a 1.50
	// skip: batch.jsonl:3: invalid JSON: invalid character 'o' looking for beginning of object key string
}
