package server

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler sends zitadel's slog records to our zap logger, so the OP's
// errors land in the same log with the same format. Its logger is always
// behind the log guard (GuardCore): the library logs whole requests
// (id_token_hint, login_hint) and error chains, and nothing of that may
// reach a log line unredacted or unbounded.
type zapHandler struct{ l *zap.Logger }

// NewSlogHandler returns a slog.Handler that writes to l through the log
// guard. serve makes it the process's default, since zitadel logs request
// errors through slog's default logger rather than the one it is given.
func NewSlogHandler(l *zap.Logger) slog.Handler {
	return zapHandler{l.WithOptions(zap.WrapCore(GuardCore))}
}

func (h zapHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	return h.l.Core().Enabled(zapLevel(lvl))
}

func (h zapHandler) Handle(_ context.Context, r slog.Record) error {
	ce := h.l.Check(zapLevel(r.Level), r.Message)
	if ce == nil {
		return nil
	}
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = appendAttr(fields, a)
		return true
	})
	ce.Write(fields...)
	return nil
}

func (h zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(attrs))
	for _, a := range attrs {
		fields = appendAttr(fields, a)
	}
	return zapHandler{h.l.With(fields...)}
}

// WithGroup qualifies the keys that follow, as slog groups do.
func (h zapHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return zapHandler{h.l.With(zap.Namespace(name))}
}

// appendAttr converts one slog attribute the way slog's own handlers do:
// LogValuers are resolved (so a type's LogValue decides what it shows,
// rather than zap reflecting all its fields), groups become objects, an
// empty group or attribute is dropped and a group without a key is inlined.
func appendAttr(fields []zap.Field, a slog.Attr) []zap.Field {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fields
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		if len(attrs) == 0 {
			return fields
		}
		if a.Key == "" {
			for _, g := range attrs {
				fields = appendAttr(fields, g)
			}
			return fields
		}
		return append(fields, zap.Object(a.Key, attrGroup(attrs)))
	case slog.KindString:
		return append(fields, zap.String(a.Key, v.String()))
	case slog.KindInt64:
		return append(fields, zap.Int64(a.Key, v.Int64()))
	case slog.KindUint64:
		return append(fields, zap.Uint64(a.Key, v.Uint64()))
	case slog.KindFloat64:
		return append(fields, zap.Float64(a.Key, v.Float64()))
	case slog.KindBool:
		return append(fields, zap.Bool(a.Key, v.Bool()))
	case slog.KindDuration:
		return append(fields, zap.Duration(a.Key, v.Duration()))
	case slog.KindTime:
		return append(fields, zap.Time(a.Key, v.Time()))
	}
	if err, ok := v.Any().(error); ok {
		return append(fields, zap.NamedError(a.Key, err))
	}
	return append(fields, zap.Any(a.Key, v.Any()))
}

// attrGroup writes a slog group as a zap object.
type attrGroup []slog.Attr

func (g attrGroup) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, a := range g {
		for _, f := range appendAttr(nil, a) {
			f.AddTo(enc)
		}
	}
	return nil
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}
