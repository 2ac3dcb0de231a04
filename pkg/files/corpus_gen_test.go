package files

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-dev/parley/pkg/extract/extracttest"
)

// The labelled set's PDF, Word, PowerPoint and Excel files are generated
// from the texts below and committed; regenerate them with
//
//	go test ./pkg/files -run TestGenerateCorpus -update-corpus
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/corpus's generated documents")

type P = extracttest.Para

var handbookPDF = [][]P{{
	{Text: "Northwind Traders employee handbook", Heading: 1},
	{Text: "This handbook explains the rules and benefits that apply to every employee of Northwind Traders. It replaces all earlier versions and applies from January 2026."},
	{Text: "Working hours", Heading: 2},
	{Text: "The standard working week is 38 hours. Core hours are from 10:00 to 15:00, when everyone is expected to be available; outside core hours you may organise your time freely with your team lead."},
	{Text: "Overtime must be approved in advance by your manager. Approved overtime is compensated with time off at a rate of one and a half hours per hour worked."},
	{Text: "Paid leave", Heading: 2},
	{Text: "Full-time employees receive 27 days of paid holiday per calendar year, in addition to public holidays. Part-time employees receive a proportional number of days."},
	{Text: "Up to five unused holiday days can be carried over to the next year. Carried-over days expire on 31 March if they are not taken."},
}, {
	{Text: "Sick leave", Heading: 2},
	{Text: "If you are ill, call your manager before 9:00 on the first day of absence. A doctor's note is required from the fourth consecutive day of sick leave."},
	{Text: "During sick leave you continue to receive your full salary for the first twelve months."},
	{Text: "Expenses", Heading: 2},
	{Text: "Business expenses are reimbursed when they are submitted in the expense tool within 60 days, with a receipt for every amount above 25 euros. Alcohol is never reimbursed."},
	{Text: "Travel", Heading: 2},
	{Text: "Book business trips through the travel desk. Train travel is preferred for journeys under six hours; flights in economy class are allowed for longer journeys. The daily meal allowance abroad is 45 euros."},
}, {
	{Text: "Remote work", Heading: 2},
	{Text: "Employees may work from home up to three days per week. Northwind pays a monthly home office allowance of 30 euros and lends a monitor and a chair on request."},
	{Text: "Security", Heading: 2},
	{Text: "Laptops must be locked when left unattended, and lost or stolen devices must be reported to the IT service desk within one hour. Use the company password manager for every work account."},
	{Text: "Leaving the company", Heading: 2},
	{Text: "The notice period is one month during the first two years of employment and two months afterwards. Return your laptop, badge and keys on your last working day."},
}}

var routerDOCX = []P{
	{Text: "Aurora X2 router user guide", Heading: 1},
	{Text: "Thank you for choosing the Aurora X2 dual-band router. This guide helps you set it up, secure your network and solve common problems."},
	{Text: "Setting up", Heading: 2},
	{Text: "Connect the yellow WAN port to your modem with the supplied cable, then plug in the power adapter. Open the Aurora app and scan the QR code printed on the bottom of the router to start the setup wizard."},
	{Text: "Wi-Fi networks", Heading: 2},
	{Text: "The router broadcasts a 2.4 GHz network for range and a 5 GHz network for speed. The default network name and password are printed on the label under the router; change them during setup."},
	{Text: "Guest network", Heading: 2},
	{Text: "Turn on the guest network in the app under Settings, Guest Wi-Fi. Guests get internet access but cannot see your computers, printers or shared folders."},
	{Text: "Parental controls", Heading: 2},
	{Text: "Create a profile for each child, assign their devices and set a bedtime. Internet access for the profile pauses automatically at bedtime and resumes at 7:00."},
	{Text: "Firmware updates", Heading: 2},
	{Text: "The router installs firmware updates automatically between 3:00 and 5:00 at night. You can also check for updates manually in the app under Settings, System."},
	{Text: "Factory reset", Heading: 2},
	{Text: "To restore the factory settings, hold the recessed reset button on the back for ten seconds with a paper clip until the light blinks orange. All settings and passwords are erased."},
	{Text: "Warranty", Heading: 2},
	{Text: "The Aurora X2 comes with a two-year limited warranty covering hardware defects. Keep your proof of purchase."},
}

var routerLEDs = [][]string{
	{"Light", "Meaning"},
	{"Solid white", "Connected to the internet"},
	{"Blinking white", "Starting up or installing an update"},
	{"Solid red", "No internet connection: check the modem cable"},
	{"Blinking orange", "Resetting to factory settings"},
}

var onboardingPPTX = []extracttest.Slide{
	{Title: "Welcome to Northwind", Bullets: []string{"Your first week at a glance", "Questions? Ask your buddy or people@northwind.example"}},
	{Title: "Monday", Bullets: []string{"Collect your laptop and badge at the IT desk on floor 2 at 9:30", "Lunch with your team at 12:30"}},
	{Title: "Tuesday to Thursday", Bullets: []string{"Complete the security awareness training before Thursday", "Shadow a colleague from the customer service team"}},
	{Title: "Friday", Bullets: []string{"Onboarding review with your manager at 15:00", "Friday drinks in the canteen from 17:00"}},
}

var inventoryXLSX = [][]string{
	{"SKU", "Product", "Warehouse", "Units in stock", "Reorder level"},
	{"LMP-100", "Arc floor lamp", "Rotterdam", "42", "20"},
	{"LMP-210", "Brass desk lamp", "Rotterdam", "8", "15"},
	{"CHR-330", "Oak dining chair", "Antwerp", "120", "40"},
	{"TBL-410", "Walnut coffee table", "Antwerp", "5", "10"},
	{"RUG-520", "Wool area rug", "Rotterdam", "33", "12"},
}

func TestGenerateCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the generated documents")
	}
	dir := filepath.Join("testdata", "corpus")
	for name, data := range map[string][]byte{
		"handbook.pdf":    extracttest.PDF(handbookPDF),
		"router.docx":     extracttest.DOCX(routerDOCX, routerLEDs),
		"onboarding.pptx": extracttest.PPTX(onboardingPPTX),
		"inventory.xlsx":  extracttest.XLSX("Stock", inventoryXLSX),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
