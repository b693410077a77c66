package guests_test

// codeKey stands for secrets.codeKey: it keys the names of guest records.
var codeKey = []byte("guests-test-code-key-0123456789ab")
