package server

import (
	"errors"
	"fmt"

	"github.com/cutover/cutover/api"
)

// Error is the control plane's one error type: a code from the api package
// (api.CodeInvalid, api.CodeNotFound, ...) that the HTTP layer maps to a
// status, a message meant for the user, and the details that help fix the
// request.
type Error struct {
	// Code is one of the api.Code* constants.
	Code string
	// Message says what went wrong and what to do about it.
	Message string
	// Field names the request field at fault, for api.CodeInvalid.
	Field string
	// CurrentVersion is the stored version, for a stale-version conflict.
	CurrentVersion int64
	// Gate is the gates' verdict, for api.CodeGateRefused.
	Gate *api.GateStatus
}

// Error returns the message, prefixed by the field if there is one.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an api.CodeInvalid error naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: api.CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns the error for an unknown migration.
func NotFound(migration string) *Error {
	return &Error{Code: api.CodeNotFound, Message: fmt.Sprintf("migration %q does not exist: create it with POST /api/v1/migrations (admin) or check the name", migration)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// api.CodeInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return api.CodeInternal
}
