package server

import (
	"reflect"
	"testing"

	"github.com/guestpass/guestpass/connectors/otp"
	"github.com/guestpass/guestpass/pkg/config"
)

// fill sets every field reachable in v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	}
}

// zeroFields names the fields of v left zero.
func zeroFields(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Struct:
		var zero []string
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				zero = append(zero, zeroFields(v.Field(i), path+"."+f.Name)...)
			}
		}
		return zero
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		return zeroFields(v.Index(0), path+"[0]")
	}
	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// TestOptionsCarryEveryField: each package's options, converted from a
// config that sets everything, have every field set; a field added to
// the options and forgotten here fails.
func TestOptionsCarryEveryField(t *testing.T) {
	var tenant config.Tenant
	fill(reflect.ValueOf(&tenant).Elem())
	var smtp config.SMTP
	fill(reflect.ValueOf(&smtp).Elem())
	for name, opts := range map[string]any{
		"login.Tenant":      loginTenant(tenant),
		"op.TenantSettings": opTenant(tenant),
		"otp.Policy":        otpPolicy(tenant.EmailOTP),
		"mail.SMTPOptions":  SMTPOptions(smtp),
	} {
		if zero := zeroFields(reflect.ValueOf(opts), name); len(zero) > 0 {
			t.Errorf("not carried over from the config: %v", zero)
		}
	}
}

// TestOTPPolicyDefaultsMatchConfig: the YAML's passcode defaults (B3, B8)
// are otp's own.
func TestOTPPolicyDefaultsMatchConfig(t *testing.T) {
	if got, want := otpPolicy(config.DefaultEmailOTP()), otp.DefaultPolicy(); got != want {
		t.Fatalf("config's emailOTP defaults give %+v, otp's are %+v", got, want)
	}
}
