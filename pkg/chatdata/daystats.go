package chatdata

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ds "github.com/parley-dev/parley/pkg/dynamostore"
)

// DayStats are a bot's counters of one day, kept by the chat API in the
// chat table (pk BOT#<bot>, sk STAT#<yyyy-mm-dd>) in the transactions of
// what they count.
type DayStats struct {
	Day            string         `json:"-"`
	NewUsers       int            `json:"newUsers"`
	ReturningUsers int            `json:"returningUsers"`
	Sessions       int            `json:"sessions"`
	UserMessages   int            `json:"userMessages"`
	BotMessages    int            `json:"botMessages"`
	Events         map[string]int `json:"events"`
}

func (d *DayStats) add(o DayStats) {
	d.NewUsers += o.NewUsers
	d.ReturningUsers += o.ReturningUsers
	d.Sessions += o.Sessions
	d.UserMessages += o.UserMessages
	d.BotMessages += o.BotMessages
	for t, c := range o.Events {
		if d.Events == nil {
			d.Events = map[string]int{}
		}
		d.Events[t] += c
	}
}

// DayStatsReader reads the day counters (analytics).
type DayStatsReader struct {
	db    ds.Client
	table string
}

// NewDayStatsReader returns the reader on the chat table.
func NewDayStatsReader(db ds.Client, table string) *DayStatsReader {
	return &DayStatsReader{db: db, table: table}
}

// DayStats reads a bot's day counters from start to end (yyyy-mm-dd,
// inclusive) with one Query (more pages only past 1 MB), by day: the
// shards of each day summed.
func (r *DayStatsReader) DayStats(ctx context.Context, botID, start, end string) (map[string]DayStats, error) {
	keyCond := expression.Key(ds.PK).Equal(expression.Value("BOT#" + botID)).
		And(expression.Key(ds.SK).Between(expression.Value("STAT#"+start), expression.Value("STAT#"+end+"#~")))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: &r.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	out := map[string]DayStats{}
	p := dynamodb.NewQueryPaginator(r.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var d DayStats
			if err := ds.Unmarshal(it, &d); err != nil {
				return nil, err
			}
			for k := range it {
				if t, ok := strings.CutPrefix(k, eventCounterPrefix); ok {
					if d.Events == nil {
						d.Events = map[string]int{}
					}
					d.Events[t] += int(ds.Int(it, k))
				}
			}
			d.Day, _, _ = strings.Cut(strings.TrimPrefix(ds.String(it, ds.SK), "STAT#"), "#")
			sum := out[d.Day]
			sum.Day = d.Day
			sum.add(d)
			out[d.Day] = sum
		}
	}
	return out, nil
}
