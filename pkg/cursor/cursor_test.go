package cursor

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestRoundTripAndBinding(t *testing.T) {
	c := New([]byte("k1"))
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "BOT#a"}, "sk": &types.AttributeValueMemberS{Value: "USER#u"}}
	tok := c.Encode("users|a", key)
	got, err := c.Decode("users|a", tok)
	if err != nil || got["sk"].(*types.AttributeValueMemberS).Value != "USER#u" {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if c.Encode("users|a", nil) != "" {
		t.Error("end of list has a token")
	}
	if k, err := c.Decode("users|a", ""); k != nil || err != nil {
		t.Error("empty token is not the first page")
	}
	for name, bad := range map[string]func() (map[string]types.AttributeValue, error){
		"other scope": func() (map[string]types.AttributeValue, error) { return c.Decode("users|b", tok) },
		"other key":   func() (map[string]types.AttributeValue, error) { return New([]byte("k2")).Decode("users|a", tok) },
		"tampered":    func() (map[string]types.AttributeValue, error) { return c.Decode("users|a", "e30"+tok[2:]) },
		"garbage":     func() (map[string]types.AttributeValue, error) { return c.Decode("users|a", "nonsense") },
	} {
		if _, err := bad(); err != ErrInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
