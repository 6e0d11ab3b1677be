package apitest

import (
	"strconv"
	"strings"
)

// lead is the person on the other end of a generated call.
type lead struct {
	lang, first, name, phone, email string
}

// language picks the language of a call: mostly English, some Spanish,
// German, French (accents), Japanese and Chinese (CJK).
func (g *gen) language() string {
	switch x := g.r.IntN(100); {
	case x < 72:
		return "en"
	case x < 82:
		return "es"
	case x < 88:
		return "de"
	case x < 93:
		return "fr"
	case x < 97:
		return "ja"
	}
	return "zh"
}

// lead makes a lead speaking lang; about one in eight has no name.
func (g *gen) lead(lang string) lead {
	r := g.r
	p := people[lang]
	first, last := pick(r, p.first), pick(r, p.last)
	l := lead{lang: lang, first: first, name: first + " " + last}
	if lang == "ja" || lang == "zh" {
		l.name = last + first
	}
	if g.chance(0.12) {
		l.name = ""
	}
	l.phone = p.prefix + strconv.Itoa(2+r.IntN(8)) + digits(g, p.digits-1)
	l.email = strings.ToLower(asciiOnly(first)) + "." + strconv.Itoa(r.IntN(100)) + "@" + pick(r, []string{"gmail.com", "outlook.com", "example.org", "web.de"})
	return l
}

// digits returns n random decimal digits.
func digits(g *gen, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

var unaccent = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "ç", "c",
	"è", "e", "ê", "e", "ë", "e", "ô", "o", "ö", "o", "ü", "u", "ä", "a", "ß", "ss", "Í", "I", "Á", "A", "É", "E")

// asciiOnly transliterates accents and keeps the ASCII of s, or "user" if
// none is left (CJK names).
func asciiOnly(s string) string {
	var b strings.Builder
	for _, c := range unaccent.Replace(s) {
		if c < 128 {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

// transcriptLines is how many lines a call with this status gets: about
// 36 on completed calls, occasionally hundreds, sometimes none.
func (g *gen) transcriptLines(status string) int {
	switch status {
	case "completed":
		switch {
		case g.chance(0.03):
			return 0
		case g.chance(0.025):
			return 150 + g.r.IntN(350)
		}
		return 16 + g.r.IntN(42)
	case "in-progress":
		return 4 + g.r.IntN(20)
	case "left_voicemail":
		return 2 + g.r.IntN(4)
	case "hangup_on_voicemail":
		return 1 + g.r.IntN(2)
	}
	return 0
}

// transcript writes n lines of conversation: "bot:" or "assistant:" for the
// agent, "human:" for the lead, continuation lines without a speaker, an
// occasional emoji, leading newlines and CRLF line ends on some calls.
func (g *gen) transcript(lang, first string, n int) string {
	if n == 0 {
		return ""
	}
	r := g.r
	agent := "bot: "
	if g.chance(0.3) {
		agent = "assistant: "
	}
	ph := phrases[lang]
	out := make([]string, 0, n)
	out = append(out, agent+pick(r, ph.greet))
	botTurn := false
	for len(out) < n {
		switch {
		case botTurn:
			out = append(out, agent+strings.ReplaceAll(pick(r, ph.bot), "{name}", first))
			if len(out) < n && g.chance(0.12) {
				out = append(out, pick(r, ph.cont))
			}
			botTurn = g.chance(0.2) // the agent sometimes says two things in a row
		case g.chance(0.03):
			out = append(out, "human: (Now the user has not responded in a while, you would say:)")
			botTurn = true
		default:
			line := strings.ReplaceAll(pick(r, ph.human), "{name}", first)
			if g.chance(0.05) {
				line += " " + pick(r, emoji)
			}
			out = append(out, "human: "+line)
			botTurn = true
		}
	}
	sep := "\n"
	if g.chance(0.05) {
		sep = "\r\n"
	}
	s := strings.Join(out, sep)
	switch x := r.IntN(100); {
	case x < 15:
		s = "\n" + s
	case x < 20:
		s = "\n\n" + s
	}
	return s
}

var emoji = []string{"👍", "🙏", "😊", "🙂", "👌", "✅", "😅"}

// people holds names and phone formats per language.
var people = map[string]struct {
	first, last []string
	prefix      string
	digits      int
}{
	"en": {[]string{"Eddie", "Julia", "Marcus", "Priya", "Tom", "Sarah", "Kevin", "Aisha", "Chloé", "José"},
		[]string{"Smith", "Johnson", "Nguyen", "O'Brien", "Patel", "García", "Miller", "Brown"}, "+1", 10},
	"es": {[]string{"José", "María", "Begoña", "Íñigo", "Lucía", "Andrés", "Ramón"},
		[]string{"Núñez", "García", "Muñoz", "Pérez", "Ibáñez", "López"}, "+346", 8},
	"de": {[]string{"Jürgen", "Jörg", "Anja", "Käthe", "Stefan", "Björn"},
		[]string{"Müller", "Groß", "Schäfer", "Weiß", "Köhler"}, "+4915", 9},
	"fr": {[]string{"Hélène", "François", "Zoë", "Gaëlle", "Jérôme", "Noël"},
		[]string{"Lefèvre", "Dubois", "Béranger", "Moreau", "Laurent"}, "+336", 8},
	"ja": {[]string{"花子", "太郎", "さくら", "健一", "由美"},
		[]string{"佐藤", "鈴木", "高橋", "田中", "渡辺"}, "+8190", 8},
	"zh": {[]string{"伟", "芳", "娜", "强", "静"},
		[]string{"王", "李", "张", "刘", "陈"}, "+86138", 8},
}

// phraseBank is what agents and leads say in one language.
type phraseBank struct {
	greet, bot, cont, human []string
}

var phrases = map[string]phraseBank{
	"en": {
		greet: []string{"Hey, you've called to Brightside Dental. How may I assist you today?",
			"Hi, this is Emma from Northwind Insurance. Is now a good time to talk for a minute?",
			"Hello! Thanks for calling Acme Roofing, this is your virtual assistant. How can I help?"},
		bot: []string{"Let me check your preferences.", "I didn't catch your name. ",
			"Could you please provide it so I can look up your account? ", "Alright, {name}. ",
			"Let me quickly pull up your details. ", "One moment, please. ",
			"Hey {name}, are you still there? ", "Got it. ", "Would Tuesday at 3 PM work for you?",
			"I can book that appointment for you right now.", "Perfect, I have you down for Thursday morning.",
			"Can you confirm the best email address to send the confirmation to?",
			"Our office is open Monday to Friday,", "Is there anything else I can help you with today?",
			"Thanks for your time, {name}. Have a great day!", "I understand. Let me transfer you to a colleague.",
			"Just to confirm, your budget is around fifteen hundred dollars, is that right?",
			"I'm sorry, I didn't quite get that. Could you repeat it?",
			"Absolutely, {name}. I can see you've been with us for a while, so let me go through the options that fit your plan and we'll find the best one for you.",
			"Great question. The standard cleaning is covered by most plans, and if anything isn't, we'll let you know the exact cost before we start, so there are no surprises.",
			"No problem at all. I'll send you a text message with the details in a moment, and if you need to reschedule you can simply reply to that message or call us back.",
			"Before we wrap up, I just need to confirm a couple of details: your full name, the best phone number to reach you, and whether mornings or afternoons work better.",
			"I completely understand. Many of our customers felt the same way at first, which is why we offer a thirty-day trial with no commitment, and you can cancel at any time.",
			"Let me double-check that for you. According to our records, your last visit was in March, so you're due for your six-month check-up, and Dr. Patel has availability next week.",
			"Thank you for waiting, {name}. I've updated your file with the new address and phone number, and you'll receive a confirmation email within the next few minutes."},
		cont: []string{"from nine in the morning until six in the evening.",
			"and one of our specialists will call you back within 24 hours.",
			"so you don't need to bring anything to the appointment."},
		human: []string{"Hello. I would like to know my preferences.", "{name}.", "Yes.", "No, not really.",
			"Yeah, that works.", "Can you call me back later?", "How much does it cost?",
			"I already have insurance, thanks.", "Sure, it's {name} at gmail dot com.",
			"Um, I think so, yeah.", "Who is this?", "Okay, sounds good.", "Thursday is better for me.",
			"No, that's all. Thank you!", "Wait, what was the price again?", "I'm driving right now.",
			"Yeah, so basically I got a letter last week saying my policy renews next month and the price went up quite a bit, and I wanted to understand why.",
			"I mean, I'd prefer something in the afternoon because I work mornings, but if there's nothing then I guess early morning could work too."},
	},
	"es": {
		greet: []string{"Hola, ha llamado a Clínica Dental Sonrisa. ¿En qué puedo ayudarle?"},
		bot: []string{"Perfecto, {name}. ", "¿Podría confirmarme su número de teléfono?",
			"Un momento, por favor, estoy revisando la agenda.", "¿Le viene bien el miércoles a las diez y media?",
			"Entiendo perfectamente. Le explico: la revisión incluye una limpieza completa y una radiografía, y si necesita algún tratamiento adicional le daremos un presupuesto antes de empezar.",
			"Le enviaré la confirmación por correo electrónico.", "¿Hay algo más en lo que pueda ayudarle?"},
		cont: []string{"y recuerde traer su tarjeta sanitaria."},
		human: []string{"Sí, claro.", "Me llamo {name}.", "Quería pedir una cita para mi hijo.",
			"¿Cuánto cuesta la revisión?", "No, gracias, eso es todo.", "Mejor por la tarde, si puede ser."},
	},
	"de": {
		greet: []string{"Guten Tag, Sie sprechen mit dem digitalen Assistenten der Müller GmbH. Wie kann ich helfen?"},
		bot: []string{"Alles klar, {name}. ", "Darf ich Ihre Kundennummer erfahren?",
			"Einen Moment bitte, ich prüfe die Verfügbarkeit.", "Würde Ihnen Donnerstag um 14 Uhr passen?",
			"Das verstehe ich gut. Ich habe Ihre Daten aktualisiert, und Sie erhalten in den nächsten Minuten eine Bestätigung mit allen Einzelheiten zu Ihrem Termin per E-Mail.",
			"Vielen Dank für Ihren Anruf und einen schönen Tag!"},
		cont: []string{"und Sie erhalten eine Bestätigung per E-Mail."},
		human: []string{"Ja, genau.", "Ich heiße {name}.", "Ich möchte einen Termin vereinbaren.",
			"Nein, danke, das wär's.", "Geht es auch nächste Woche?"},
	},
	"fr": {
		greet: []string{"Bonjour, vous êtes bien chez Hôtel Bellevue. Comment puis-je vous aider ?"},
		bot: []string{"Très bien, {name}. ", "Pourriez-vous me donner votre numéro de réservation ?",
			"Un instant, je vérifie la disponibilité.", "Nous avons une chambre libre à partir du 12 mai.",
			"Je comprends tout à fait. La chambre supérieure dispose d'une vue sur le lac, le petit-déjeuner est inclus et l'annulation est gratuite jusqu'à quarante-huit heures avant l'arrivée.",
			"Merci beaucoup, bonne journée !"},
		cont: []string{"et le petit-déjeuner est inclus."},
		human: []string{"Oui, c'est ça.", "Je m'appelle {name}.", "Je voudrais réserver une chambre pour deux.",
			"C'est combien la nuit ?", "Non, ce sera tout, merci."},
	},
	"ja": {
		greet: []string{"お電話ありがとうございます。さくら歯科の自動受付です。ご用件をどうぞ。"},
		bot: []string{"かしこまりました、{name}様。", "ご希望の日時を教えていただけますか？",
			"少々お待ちください。空き状況を確認いたします。", "水曜日の午後三時はいかがでしょうか？",
			"ご予約を承りました。ありがとうございました。"},
		cont: []string{"当日は保険証をお持ちください。"},
		human: []string{"はい、お願いします。", "{name}です。", "予約をしたいのですが。", "来週でも大丈夫ですか？",
			"いいえ、以上です。"},
	},
	"zh": {
		greet: []string{"您好，这里是明华保险智能客服，请问有什么可以帮您？"},
		bot: []string{"好的，{name}先生/女士。", "请问您的保单号码是多少？", "请稍等，我帮您查询一下。",
			"您的续保日期是下个月十五号。", "感谢您的来电，祝您生活愉快！"},
		cont:  []string{"如有其他问题欢迎随时来电。"},
		human: []string{"是的。", "我姓{name}。", "我想问一下续保的事情。", "多少钱？", "没有了，谢谢。"},
	},
}

var customEndReasons = []string{"Customer is being abusive", "Customer asked to be removed from the list",
	"Caller requested a human agent", "Wrong number", "Appointment booked, ending call"}

var failureMessages = []string{"Account not found!", "404: Not Found", "608: Rejected", "487: Request Terminated",
	"429: Rate limit exceeded. Your rate limit per minute is 60. Please try again later.", "Insufficient Minutes",
	"Invalid phone number format"}

var timezones = []string{"America/New_York", "America/Los_Angeles", "America/Chicago", "Europe/Madrid",
	"Europe/Berlin", "Europe/Paris", "Europe/London", "Asia/Tokyo", "Asia/Shanghai", "UTC"}

var judgeKeys = []string{"persona", "style", "steps", "no_repetition", "objections", "knowledge", "goal",
	"appointment", "user_sentiment", "agent_sentiment", "call_completion", "answered_by_human", "opted_in",
	"call_summary"}

var judgeFeedback = []string{"The agent repeated the same question twice.",
	"Did not confirm the appointment time before ending the call.", "Objection about price was not handled.",
	"The user sounded frustrated near the end of the call."}
