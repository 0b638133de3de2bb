#!/usr/bin/env python3
"""Writes the auto-mapping evaluation set: one JSON file per portal in portals/.

Each portal = HubSpot's default property set for the object (as HubSpot ships it:
names, labels, types, groups, read-only/calculated flags) + that business's custom
properties (traps included) + the Keva fields with the expected property or null.
Rerun after editing: python3 crates/core/eval/build_set.py
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))

def P(name, label, type_, field_type, group, desc="", ro=False, calc=False, options=None, hs=True):
    d = {"name": name, "label": label, "type": type_, "fieldType": field_type,
         "groupName": group, "description": desc, "hubspotDefined": hs,
         "calculated": calc, "modificationMetadata": {"readOnlyValue": ro or calc,
         "readOnlyDefinition": hs, "archivable": not hs}}
    d["options"] = [{"label": l, "value": v, "displayOrder": i, "hidden": False}
                    for i, (v, l) in enumerate(options or [])]
    return d

def C(name, label, type_, field_type, desc="", group="keva_custom", options=None, ro=False, calc=False):
    return P(name, label, type_, field_type, group, desc, ro=ro, calc=calc, options=options, hs=False)

CI = "contactinformation"
LIFECYCLE = [(v, v.title()) for v in ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"]]
LANGS = [("en", "English"), ("fr", "French"), ("de", "German"), ("es", "Spanish"), ("pt-br", "Portuguese (Brazil)"), ("ja", "Japanese")]
YN = [("true", "Yes"), ("false", "No")]

CONTACT_DEFAULTS = [
    P("email", "Email", "string", "text", CI, "A contact's email address"),
    P("firstname", "First Name", "string", "text", CI, "A contact's first name"),
    P("lastname", "Last Name", "string", "text", CI, "A contact's last name"),
    P("salutation", "Salutation", "string", "text", CI, "The title used to address a contact"),
    P("phone", "Phone Number", "string", "phonenumber", CI, "A contact's primary phone number"),
    P("mobilephone", "Mobile Phone Number", "string", "phonenumber", CI, "A contact's mobile phone number"),
    P("hs_whatsapp_phone_number", "WhatsApp Phone Number", "string", "phonenumber", CI, "The phone number associated with the contact's WhatsApp account."),
    P("hs_calculated_phone_number", "Calculated Phone Number", "string", "phonenumber", CI, "Phone number in international format, computed from phone", calc=True),
    P("hs_calculated_mobile_number", "Calculated Mobile Number", "string", "phonenumber", CI, "Mobile phone number in international format", calc=True),
    P("hs_searchable_calculated_phone_number", "Phone Number (searchable)", "string", "text", CI, "Phone number without country code", calc=True),
    P("fax", "Fax Number", "string", "text", CI, "A contact's primary fax number"),
    P("company", "Company Name", "string", "text", CI, "Name of the contact's company."),
    P("jobtitle", "Job Title", "string", "text", CI, "A contact's job title"),
    P("hs_job_function", "Job function", "enumeration", "select", CI, "The contact's job function", options=[("sales", "Sales"), ("marketing", "Marketing"), ("engineering", "Engineering"), ("support", "Support")]),
    P("hs_seniority", "Seniority", "enumeration", "select", CI, "The contact's seniority", options=[("owner", "Owner"), ("vp", "VP"), ("director", "Director"), ("manager", "Manager"), ("entry", "Entry")]),
    P("website", "Website URL", "string", "text", CI, "Associated company website."),
    P("address", "Street Address", "string", "text", CI, "Contact's street address, including apartment or unit number."),
    P("city", "City", "string", "text", CI, "A contact's city of residence"),
    P("state", "State/Region", "string", "text", CI, "The contact's state of residence."),
    P("hs_state_code", "State/Region Code", "string", "text", CI, "The contact's state code", calc=True),
    P("zip", "Postal Code", "string", "text", CI, "Contact's zip code."),
    P("country", "Country/Region", "string", "text", CI, "The contact's country/region of residence."),
    P("hs_country_region_code", "Country/Region Code", "string", "text", CI, "The contact's two-letter country code", calc=True),
    P("ip_city", "IP City", "string", "text", "analyticsinformation", "The city reported by the contact's IP address", calc=True),
    P("ip_country", "IP Country", "string", "text", "analyticsinformation", "The country reported by the contact's IP address", calc=True),
    P("hs_timezone", "Time Zone", "enumeration", "select", CI, "The contact's time zone", options=[("europe_slash_paris", "Europe/Paris"), ("america_slash_new_york", "America/New_York"), ("asia_slash_tokyo", "Asia/Tokyo")]),
    P("hs_ip_timezone", "IP Timezone", "string", "text", "analyticsinformation", "The timezone reported by the contact's IP address", calc=True),
    P("hs_language", "Preferred language", "enumeration", "select", CI, "Set your contact's preferred language for communications.", options=LANGS),
    P("date_of_birth", "Date of birth", "string", "text", CI, "The contact's date of birth"),
    P("gender", "Gender", "string", "text", CI, ""),
    P("message", "Message", "string", "textarea", CI, "A default property to be used for any message or comments a contact may want to leave on a form."),
    P("industry", "Industry", "string", "text", CI, "The Industry a contact is in"),
    P("annualrevenue", "Annual Revenue", "string", "text", CI, "Annual company revenue"),
    P("numemployees", "Number of Employees", "enumeration", "select", CI, "The number of company employees", options=[("1-5", "1-5"), ("5-25", "5-25"), ("25-50", "25-50"), ("1000+", "1000+")]),
    P("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", CI, "The qualification of contacts to sales readiness.", options=LIFECYCLE),
    P("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", "The contact's sales, prospecting or outreach status", options=[("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress"), ("UNQUALIFIED", "Unqualified")]),
    P("hubspot_owner_id", "Contact owner", "enumeration", "select", "sales_properties", "The owner of a contact."),
    P("hs_persona", "Persona", "enumeration", "select", "sales_properties", "A contact's persona"),
    P("hs_buying_role", "Buying Role", "enumeration", "checkbox", "sales_properties", "Role the contact plays during the sales process."),
    P("twitterhandle", "Twitter Username", "string", "text", "socialmediainformation", "The contact's Twitter handle"),
    P("hs_linkedin_url", "LinkedIn URL", "string", "text", "socialmediainformation", "The contact's LinkedIn profile URL", calc=True),
    P("hs_content_membership_notes", "Membership Notes", "string", "textarea", CI, "Notes relating to the contact's content membership."),
    P("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox", CI, "A set of additional email addresses for a contact", ro=True),
    P("hs_email_domain", "Email Domain", "string", "text", CI, "A contact's email address domain", ro=True),
    P("work_email", "Work email", "string", "text", CI, "A contact's work email. This property is required for the Facebook Ads Integration."),
    P("hs_emailconfirmationstatus", "Email Confirmation Status", "enumeration", "select", "emailinformation", "The status of a contact's eligibility to receive confirmation emails", ro=True),
    P("hs_email_last_open_date", "Last marketing email open date", "datetime", "date", "emailinformation", "The last time the contact opened a marketing email", calc=True),
    P("createdate", "Create Date", "datetime", "date", CI, "The date that a contact entered the system", ro=True),
    P("lastmodifieddate", "Last Modified Date", "datetime", "date", CI, "Most recent timestamp of any property update for a contact.", ro=True),
    P("hs_object_id", "Record ID", "number", "number", CI, "The unique ID for this record.", ro=True, calc=True),
    P("associatedcompanyid", "Primary Associated Company ID", "number", "number", CI, "HubSpot defined ID of a contact's primary associated company", ro=True),
    P("num_associated_deals", "Number of Associated Deals", "number", "number", "deal_information", "Count of deals associated with this contact.", calc=True),
    P("total_revenue", "Total Revenue", "number", "number", "deal_information", "The total revenue from all closed won deals associated with this contact", calc=True),
    P("recent_deal_amount", "Recent Deal Amount", "number", "number", "deal_information", "Amount of last closed won deal associated with a contact", calc=True),
    P("first_deal_created_date", "First Deal Created Date", "datetime", "date", "deal_information", "Date first deal was created for contact", calc=True),
    P("hs_lifecyclestage_customer_date", "Became a Customer Date", "datetime", "date", CI, "The date the contact became a customer", calc=True),
    P("notes_last_updated", "Last Activity Date", "datetime", "date", "contact_activity", "The last time a call, meeting, note or email was logged.", ro=True),
    P("notes_last_contacted", "Last Contacted", "datetime", "date", "contact_activity", "The last time a call, chat or email was logged on the contact record.", ro=True),
    P("notes_next_activity_date", "Next Activity Date", "datetime", "date", "contact_activity", "The date of the next upcoming activity for a contact."),
    P("num_notes", "Number of Sales Activities", "number", "number", "contact_activity", "The number of sales activities (calls, emails, meetings, notes).", calc=True),
    P("num_contacted_notes", "Number of times contacted", "number", "number", "contact_activity", "The number of times a call, chat or email was logged on the contact record.", calc=True),
    P("hs_analytics_num_page_views", "Number of Pageviews", "number", "number", "analyticsinformation", "The number of page views", calc=True),
    P("hs_analytics_source", "Original Source", "enumeration", "select", "analyticsinformation", "The first known source through which the contact found your website", ro=True),
    P("hs_latest_source", "Latest Traffic Source", "enumeration", "select", "analyticsinformation", "The source of the latest session", ro=True),
    P("hs_marketable_status", "Marketing contact status", "enumeration", "booleancheckbox", CI, "The marketing status of a contact", ro=True, options=YN),
    P("hs_sa_first_engagement_date", "Date of first engagement", "datetime", "date", "contact_activity", "", calc=True),
    P("hs_last_sales_activity_timestamp", "Last Engagement Date", "datetime", "date", "contact_activity", "", calc=True),
    P("hs_object_source", "Record source", "string", "text", CI, "How this record was created", ro=True),
    P("degree", "Degree", "string", "text", CI, "Contact's degree"),
    P("school", "School", "string", "text", CI, "Contact's school"),
    P("start_date", "Start Date", "string", "text", CI, "Start date at current job"),
]

CO = "companyinformation"
COMPANY_DEFAULTS = [
    P("name", "Company name", "string", "text", CO, "The name of the company or organization."),
    P("domain", "Company Domain Name", "string", "text", CO, "The domain name of the company or organization"),
    P("website", "Website URL", "string", "text", CO, "The main website of the company or organization."),
    P("industry", "Industry", "enumeration", "select", CO, "The type of business the company performs.", options=[("ACCOUNTING", "Accounting"), ("COMPUTER_SOFTWARE", "Computer Software"), ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"), ("RETAIL", "Retail"), ("MARKETING_AND_ADVERTISING", "Marketing and Advertising")]),
    P("type", "Type", "enumeration", "select", CO, "The optional classification of this company record - prospect, partner, etc.", options=[("PROSPECT", "Prospect"), ("PARTNER", "Partner"), ("RESELLER", "Reseller"), ("VENDOR", "Vendor"), ("OTHER", "Other")]),
    P("numberofemployees", "Number of Employees", "number", "number", CO, "The total number of employees who work for the company or organization"),
    P("annualrevenue", "Annual Revenue", "number", "number", CO, "The actual or estimated annual revenue of the company"),
    P("phone", "Phone Number", "string", "phonenumber", CO, "A company's primary phone number."),
    P("address", "Street Address", "string", "text", CO, "The street address of the company or organization."),
    P("address2", "Street Address 2", "string", "text", CO, "The additional address of the company or organization."),
    P("city", "City", "string", "text", CO, "The city where the company is located."),
    P("state", "State/Region", "string", "text", CO, "The state or region where the company is located."),
    P("zip", "Postal Code", "string", "text", CO, "The postal or zip code of the company or organization."),
    P("country", "Country/Region", "string", "text", CO, "The country/region in which the company or organization is located."),
    P("timezone", "Time Zone", "string", "text", CO, "The time zone where the company or organization is located."),
    P("description", "Description", "string", "textarea", CO, "A short statement about the company's mission and goals."),
    P("about_us", "About Us", "string", "textarea", CO, "Short description of the company"),
    P("founded_year", "Year Founded", "string", "text", CO, "Year the company was created."),
    P("is_public", "Is Public", "bool", "booleancheckbox", CO, "Indicates that the company is publicly traded.", options=YN),
    P("linkedin_company_page", "LinkedIn Company Page", "string", "text", "socialmediainformation", "The URL of the LinkedIn company page"),
    P("twitterhandle", "Twitter Handle", "string", "text", "socialmediainformation", "The main twitter account of the company"),
    P("facebook_company_page", "Facebook Company Page", "string", "text", "socialmediainformation", "The URL of the Facebook company page"),
    P("web_technologies", "Web Technologies", "enumeration", "checkbox", CO, "Web Technologies used by the company or organization.", options=[("google_analytics", "Google Analytics"), ("shopify", "Shopify"), ("wordpress", "WordPress")]),
    P("total_money_raised", "Total Money Raised", "string", "text", CO, "The total amount of money raised by the company"),
    P("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", CO, "The most advanced lifecycle stage across all contacts associated with this company.", options=LIFECYCLE),
    P("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", "The company's sales, prospecting or outreach status"),
    P("hubspot_owner_id", "Company owner", "enumeration", "select", CO, "The owner of the company"),
    P("hs_ideal_customer_profile", "Ideal Customer Profile Tier", "enumeration", "radio", CO, "", options=[("tier_1", "Tier 1"), ("tier_2", "Tier 2"), ("tier_3", "Tier 3")]),
    P("hs_annual_revenue_currency_code", "Annual Revenue Currency Code", "string", "text", CO, "The currency code of the annual revenue", ro=True),
    P("total_revenue", "Total Revenue", "number", "number", "deal_information", "The total amount of closed won deals", calc=True),
    P("recent_deal_amount", "Recent Deal Amount", "number", "number", "deal_information", "The amount of the last closed won deal", calc=True),
    P("hs_total_deal_value", "Total open deal value", "number", "number", "deal_information", "The total value of the open deals", calc=True),
    P("hs_num_open_deals", "Number of open deals", "number", "number", "deal_information", "The number of open deals associated with this company", calc=True),
    P("num_associated_contacts", "Number of Associated Contacts", "number", "number", CO, "The number of contacts associated with this company", calc=True),
    P("num_associated_deals", "Number of Associated Deals", "number", "number", "deal_information", "The number of deals associated with this company", calc=True),
    P("createdate", "Create Date", "datetime", "date", CO, "The date the company or organization was added to the database", ro=True),
    P("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", CO, "Most recent timestamp of any property update for this company.", ro=True),
    P("hs_object_id", "Record ID", "number", "number", CO, "The unique ID for this record.", ro=True, calc=True),
    P("first_deal_created_date", "First Deal Created Date", "datetime", "date", "deal_information", "", calc=True),
    P("hs_analytics_num_page_views", "Number of Pageviews", "number", "number", "analyticsinformation", "", calc=True),
    P("notes_last_updated", "Last Activity Date", "datetime", "date", "company_activity", "", ro=True),
    P("hs_csm_sentiment", "CSM Sentiment", "enumeration", "select", CO, "", options=[("positive", "Positive"), ("neutral", "Neutral"), ("negative", "Negative")]),
]

def F(key, type_, expected, label=None, desc=None, options=None):
    f = {"key": key, "type": type_}
    if label: f["label"] = label
    if desc: f["description"] = desc
    if options: f["options"] = options
    return {"field": f, "expected": expected}

BUILTINS_STD = [
    F("email", "email", "email"), F("name", "string", "firstname"), F("phone", "phone", "phone"),
    F("company", "string", "company"), F("jobTitle", "string", "jobtitle"),
    F("location", "string", "city"), F("notes", "string", None),
]

PORTALS = {}

# 1. SaaS (contacts): MRR traps, migration copies, plan enum.
PORTALS["saas_cloudly"] = dict(object="contacts", custom=[
    C("mrr__c", "Monthly Recurring Revenue", "number", "number", "MRR in USD from billing"),
    C("old_mrr", "MRR (old)", "number", "number", "Pre-2023 billing system, do not use"),
    C("mrr_backup", "MRR backup", "number", "number", "Copy made during the Stripe migration"),
    C("salesforce_mrr__c", "Salesforce MRR", "number", "number", "Imported from Salesforce"),
    C("plan", "Subscription plan", "enumeration", "select", options=[("free", "Free"), ("starter", "Starter"), ("pro", "Pro"), ("enterprise", "Enterprise")]),
    C("signup_date", "Signup date", "date", "date", "Day the account was created in the app"),
    C("trial_ends_at", "Trial end date", "date", "date"),
    C("seats", "Seats", "number", "number", "Paid seats"),
    C("account_manager", "Account manager", "string", "text"),
    C("churn_risk", "Churn risk", "enumeration", "select", options=[("low", "Low"), ("medium", "Medium"), ("high", "High")]),
    C("nps_score", "NPS score", "number", "number"),
    C("product_notes", "Support notes", "string", "textarea", "Notes from the support team"),
    C("is_beta_tester", "Beta tester", "bool", "booleancheckbox", options=YN),
    C("workspace_id", "App workspace ID", "string", "text"),
    C("last_login", "Last login", "datetime", "date", "Last time the user signed in to the app"),
], fields=BUILTINS_STD[:6] + [
    F("notes", "string", "product_notes"),
    F("mrr", "number", "mrr__c", "MRR"),
    F("plan", "enum", "plan", "Plan", options=["free", "starter", "pro", "enterprise"]),
    F("signupDate", "date", "signup_date", "Signup date"),
    F("trialEnd", "date", "trial_ends_at", "Trial ends"),
    F("seats", "number", "seats", "Seat count"),
    F("accountManager", "string", "account_manager", "Account manager"),
    F("churnRisk", "enum", "churn_risk", "Churn risk", options=["low", "medium", "high"]),
    F("npsScore", "number", "nps_score", "NPS"),
    F("betaTester", "boolean", "is_beta_tester", "Beta tester"),
    F("workspaceId", "string", "workspace_id", "Workspace ID"),
    F("lastLogin", "datetime", "last_login", "Last login"),
    F("language", "enum", "hs_language", "Language", options=["en", "fr", "de"]),
    F("timeZone", "string", "hs_timezone", "Time zone"),
    F("linkedin", "string", "hs_linkedin_url", "LinkedIn profile"),
    F("favoriteColor", "string", None, "Favorite color"),
    F("totalSpend", "number", None, "Lifetime spend", "Total paid to us, from Keva billing"),
    F("supportTier", "enum", None, "Support tier", options=["standard", "premium"]),
])

# 2. E-commerce (contacts): order stats, loyalty, phone look-alikes.
PORTALS["shop_fernhill"] = dict(object="contacts", custom=[
    C("total_orders", "Total orders", "number", "number", "Number of orders placed in the shop"),
    C("lifetime_value", "Customer lifetime value", "number", "number", "Sum of all order totals"),
    C("last_order_date", "Last order date", "date", "date"),
    C("first_order_date", "First order date", "date", "date"),
    C("loyalty_tier", "Loyalty tier", "enumeration", "select", options=[("bronze", "Bronze"), ("silver", "Silver"), ("gold", "Gold")]),
    C("loyalty_points", "Loyalty points", "number", "number"),
    C("shopify_customer_id", "Shopify customer ID", "string", "text"),
    C("accepts_marketing", "Accepts marketing", "bool", "booleancheckbox", options=YN),
    C("sms_phone", "SMS phone", "string", "phonenumber", "Number used for SMS marketing"),
    C("shipping_city", "Shipping city", "string", "text"),
    C("shipping_country", "Shipping country", "string", "text"),
    C("avg_order_value", "Average order value", "number", "number"),
    C("favourite_category", "Favourite category", "enumeration", "checkbox", options=[("shoes", "Shoes"), ("bags", "Bags"), ("accessories", "Accessories")]),
    C("birthday", "Birthday", "date", "date"),
    C("old_loyalty_tier", "Loyalty tier (legacy)", "string", "text", "Old loyalty program"),
], fields=BUILTINS_STD[:5] + [
    F("location", "string", "shipping_city", "Location", "Shipping city"),
    F("notes", "string", None),
    F("orderCount", "number", "total_orders", "Orders"),
    F("lifetimeValue", "number", "lifetime_value", "LTV"),
    F("lastOrderAt", "date", "last_order_date", "Last order"),
    F("firstOrderAt", "date", "first_order_date", "First order"),
    F("loyaltyTier", "enum", "loyalty_tier", "Loyalty tier", options=["bronze", "silver", "gold"]),
    F("loyaltyPoints", "number", "loyalty_points", "Points"),
    F("shopifyId", "string", "shopify_customer_id", "Shopify ID"),
    F("marketingOptIn", "boolean", "accepts_marketing", "Marketing opt-in"),
    F("smsNumber", "phone", "sms_phone", "SMS number"),
    F("country", "string", "shipping_country", "Country", "Shipping country"),
    F("averageOrder", "number", "avg_order_value", "Average order value"),
    F("categories", "multi_enum", "favourite_category", "Favourite categories", options=["shoes", "bags", "accessories"]),
    F("birthday", "date", "birthday", "Birthday"),
    F("whatsapp", "phone", "hs_whatsapp_phone_number", "WhatsApp"),
    F("giftWrap", "boolean", None, "Prefers gift wrap"),
    F("returnsCount", "number", None, "Returns"),
    F("couponCode", "string", None, "Coupon code"),
])

# 3. Agency (contacts): label != name, client roles.
PORTALS["agency_brightside"] = dict(object="contacts", custom=[
    C("cf_8831", "Retainer (monthly)", "number", "number", "Monthly retainer fee"),
    C("cf_8832", "Client since", "date", "date"),
    C("cf_8833", "Account lead", "string", "text", "Agency staff member leading the account"),
    C("cf_8834", "Services", "enumeration", "checkbox", options=[("seo", "SEO"), ("ppc", "PPC"), ("social", "Social"), ("web", "Web design")]),
    C("cf_8835", "Brief notes", "string", "textarea", "Client brief and notes"),
    C("cf_8836", "Contract renewal date", "date", "date"),
    C("cf_8837", "Budget band", "enumeration", "select", options=[("lt10k", "< 10k"), ("10to50k", "10k-50k"), ("gt50k", "> 50k")]),
    C("cf_8838", "Direct line", "string", "phonenumber", "Desk phone"),
    C("cf_8839", "Slack channel", "string", "text"),
    C("retainer_copy", "Retainer copy", "number", "number", "Copy of the retainer for reports"),
], fields=[F("email", "email", "email"), F("name", "string", "firstname"),
    F("phone", "phone", "cf_8838", "Phone", "Direct line"),
    F("company", "string", "company"), F("jobTitle", "string", "jobtitle"), F("location", "string", "city"),
    F("notes", "string", "cf_8835"),
    F("retainer", "number", "cf_8831", "Monthly retainer"),
    F("clientSince", "date", "cf_8832", "Client since"),
    F("accountLead", "string", "cf_8833", "Account lead"),
    F("services", "multi_enum", "cf_8834", "Services", options=["seo", "ppc", "social", "web"]),
    F("renewalDate", "date", "cf_8836", "Renewal date"),
    F("budget", "enum", "cf_8837", "Budget", options=["lt10k", "10to50k", "gt50k"]),
    F("slackChannel", "string", "cf_8839", "Slack channel"),
    F("mobile", "phone", "mobilephone", "Mobile"),
    F("linkedin", "string", "hs_linkedin_url", "LinkedIn"),
    F("referralSource", "string", None, "Referral source"),
    F("awardsWon", "number", None, "Awards won"),
    F("timeZone", "enum", "hs_timezone", "Time zone", options=["europe_slash_paris", "america_slash_new_york"]),
])

# 4. B2B services (companies): account-level fields.
PORTALS["b2b_northwind_companies"] = dict(object="companies", custom=[
    C("contract_value__c", "Annual contract value", "number", "number", "ACV in EUR"),
    C("acv_2019", "ACV 2019", "number", "number", "Historic snapshot"),
    C("contract_start", "Contract start date", "date", "date"),
    C("contract_end", "Contract end date", "date", "date"),
    C("sla_level", "SLA level", "enumeration", "select", options=[("bronze", "Bronze"), ("silver", "Silver"), ("gold", "Gold")]),
    C("vat_number", "VAT number", "string", "text"),
    C("billing_email", "Billing email", "string", "text"),
    C("support_phone", "Support hotline", "string", "phonenumber"),
    C("erp_account_id", "ERP account number", "string", "text"),
    C("region", "Sales region", "enumeration", "select", options=[("emea", "EMEA"), ("amer", "AMER"), ("apac", "APAC")]),
    C("customer_success_manager", "Customer success manager", "string", "text"),
], fields=[
    F("company", "string", "name", "Company"),
    F("website", "string", "website", "Website"),
    F("domain", "string", "domain", "Domain"),
    F("industry", "enum", "industry", "Industry", options=["ACCOUNTING", "COMPUTER_SOFTWARE", "RETAIL"]),
    F("employees", "number", "numberofemployees", "Employees"),
    F("annualRevenue", "number", "annualrevenue", "Annual revenue"),
    F("phone", "phone", "phone", "Phone"),
    F("location", "string", "city", "Location"),
    F("country", "string", "country", "Country"),
    F("notes", "string", "description", "Notes", "About the account"),
    F("acv", "number", "contract_value__c", "ACV"),
    F("contractStart", "date", "contract_start", "Contract start"),
    F("contractEnd", "date", "contract_end", "Contract end"),
    F("slaLevel", "enum", "sla_level", "SLA", options=["bronze", "silver", "gold"]),
    F("vatNumber", "string", "vat_number", "VAT ID"),
    F("billingEmail", "email", "billing_email", "Billing email"),
    F("supportPhone", "phone", "support_phone", "Support phone"),
    F("erpId", "string", "erp_account_id", "ERP account"),
    F("region", "enum", "region", "Region", options=["emea", "amer", "apac"]),
    F("csm", "string", "customer_success_manager", "CSM"),
    F("linkedin", "string", "linkedin_company_page", "LinkedIn page"),
    F("timeZone", "string", "timezone", "Time zone"),
    F("yearFounded", "string", "founded_year", "Founded"),
    F("publiclyTraded", "boolean", "is_public", "Public company"),
    F("totalRevenue", "number", "total_revenue", "Revenue won", "Total closed-won revenue, read from HubSpot"),
    F("paymentTerms", "string", None, "Payment terms"),
    F("creditLimit", "number", None, "Credit limit"),
])

# 5. Healthcare-ish clinic group (contacts).
PORTALS["health_meadowcare"] = dict(object="contacts", custom=[
    C("patient_id", "Patient ID", "string", "text"),
    C("preferred_clinic", "Preferred clinic", "enumeration", "select", options=[("north", "North"), ("central", "Central"), ("south", "South")]),
    C("insurance_provider", "Insurance provider", "string", "text"),
    C("insurance_number", "Insurance policy number", "string", "text"),
    C("last_appointment", "Last appointment", "datetime", "date"),
    C("next_appointment", "Next appointment", "datetime", "date"),
    C("emergency_contact_phone", "Emergency contact phone", "string", "phonenumber"),
    C("emergency_contact_name", "Emergency contact", "string", "text"),
    C("consent_sms", "SMS consent", "bool", "booleancheckbox", options=YN),
    C("practitioner", "Primary practitioner", "string", "text"),
    C("home_phone", "Home phone", "string", "phonenumber"),
    C("allergies_notes", "Clinical notes (restricted)", "string", "textarea", "Do not sync"),
    C("date_of_birth_c", "DOB", "date", "date", "Patient date of birth"),
], fields=[F("email", "email", "email"), F("name", "string", "firstname"),
    F("phone", "phone", "mobilephone", "Phone", "Mobile number for reminders"),
    F("company", "string", "company", "Employer"),
    F("jobTitle", "string", "jobtitle"), F("location", "string", "city"), F("notes", "string", None),
    F("patientId", "string", "patient_id", "Patient ID"),
    F("clinic", "enum", "preferred_clinic", "Clinic", options=["north", "central", "south"]),
    F("insurer", "string", "insurance_provider", "Insurer"),
    F("policyNumber", "string", "insurance_number", "Policy number"),
    F("lastVisit", "datetime", "last_appointment", "Last visit"),
    F("nextVisit", "datetime", "next_appointment", "Next visit"),
    F("emergencyPhone", "phone", "emergency_contact_phone", "Emergency phone"),
    F("smsConsent", "boolean", "consent_sms", "SMS consent"),
    F("doctor", "string", "practitioner", "Doctor", "Primary practitioner"),
    F("homePhone", "phone", "home_phone", "Home phone"),
    F("dateOfBirth", "date", "date_of_birth_c", "Date of birth"),
    F("bloodType", "enum", None, "Blood type", options=["a", "b", "ab", "o"]),
    F("preferredLanguage", "enum", "hs_language", "Preferred language", options=["en", "es"]),
])

# 6. SaaS #2 (companies): MRR on companies vs total_revenue.
PORTALS["saas_pipewise_companies"] = dict(object="companies", custom=[
    C("mrr", "MRR", "number", "number", "Monthly recurring revenue"),
    C("arr", "ARR", "number", "number", "Annual recurring revenue"),
    C("mrr_2022_backup", "MRR backup 2022", "number", "number"),
    C("hs_mrr_calc", "MRR (calculated)", "number", "calculation_equation", "Rollup", calc=True),
    C("plan_tier", "Plan", "enumeration", "select", options=[("basic", "Basic"), ("growth", "Growth"), ("scale", "Scale")]),
    C("renewal_date", "Renewal date", "date", "date"),
    C("health_score", "Health score", "number", "number", "0-100"),
    C("active_users", "Active users", "number", "number"),
    C("onboarding_complete", "Onboarding complete", "bool", "booleancheckbox", options=YN),
    C("tenant_id", "Tenant", "string", "text", "App tenant identifier"),
], fields=[
    F("company", "string", "name", "Company"), F("website", "string", "website", "Website"),
    F("mrr", "number", "mrr", "MRR"), F("arr", "number", "arr", "ARR"),
    F("plan", "enum", "plan_tier", "Plan", options=["basic", "growth", "scale"]),
    F("renewalDate", "date", "renewal_date", "Renewal"),
    F("healthScore", "number", "health_score", "Health"),
    F("activeUsers", "number", "active_users", "Active users"),
    F("onboarded", "boolean", "onboarding_complete", "Onboarded"),
    F("tenantId", "string", "tenant_id", "Tenant ID"),
    F("employees", "number", "numberofemployees", "Employees"),
    F("industry", "enum", "industry", "Industry", options=["COMPUTER_SOFTWARE", "RETAIL"]),
    F("phone", "phone", "phone", "Phone"), F("location", "string", "city", "City"),
    F("notes", "string", "description", "Notes"),
    F("sentiment", "enum", "hs_csm_sentiment", "CSM sentiment", options=["positive", "neutral", "negative"]),
    F("churnReason", "string", None, "Churn reason"),
    F("discount", "number", None, "Discount %"),
    F("accountOwner", "string", None, "Account owner email"),
])

# 7. Real estate agency (contacts).
PORTALS["realty_harbor"] = dict(object="contacts", custom=[
    C("budget_max", "Maximum budget", "number", "number"),
    C("budget_min", "Minimum budget", "number", "number"),
    C("property_type", "Property type sought", "enumeration", "checkbox", options=[("flat", "Flat"), ("house", "House"), ("land", "Land")]),
    C("preferred_area", "Preferred area", "string", "text"),
    C("mortgage_approved", "Mortgage approved", "bool", "booleancheckbox", options=YN),
    C("viewing_date", "Next viewing", "datetime", "date"),
    C("agent_name", "Agent", "string", "text"),
    C("office_phone", "Office phone", "string", "phonenumber"),
    C("buyer_notes", "Buyer notes", "string", "textarea"),
    C("source_portal", "Listing site", "enumeration", "select", options=[("rightmove", "Rightmove"), ("zoopla", "Zoopla"), ("other", "Other")]),
], fields=BUILTINS_STD[:6] + [
    F("notes", "string", "buyer_notes"),
    F("maxBudget", "number", "budget_max", "Max budget"),
    F("minBudget", "number", "budget_min", "Min budget"),
    F("propertyTypes", "multi_enum", "property_type", "Property types", options=["flat", "house", "land"]),
    F("area", "string", "preferred_area", "Preferred area"),
    F("mortgageApproved", "boolean", "mortgage_approved", "Mortgage in principle"),
    F("nextViewing", "datetime", "viewing_date", "Next viewing"),
    F("agent", "string", "agent_name", "Agent"),
    F("workPhone", "phone", "office_phone", "Work phone"),
    F("listingSource", "enum", "source_portal", "Source", options=["rightmove", "zoopla", "other"]),
    F("mobile", "phone", "mobilephone", "Mobile"),
    F("postcode", "string", "zip", "Postcode"),
    F("petsAllowed", "boolean", None, "Has pets"),
    F("bedrooms", "number", None, "Bedrooms wanted"),
])

# 8. Education/online courses (contacts): migration copies and hs_ look-alikes.
PORTALS["edu_learnloop"] = dict(object="contacts", custom=[
    C("courses_completed", "Courses completed", "number", "number"),
    C("enrolled_course", "Current course", "string", "text"),
    C("student_id", "Student number", "string", "text"),
    C("enrollment_date", "Enrollment date", "date", "date"),
    C("graduation_date", "Graduation date", "date", "date"),
    C("subscription_status", "Subscription status", "enumeration", "select", options=[("active", "Active"), ("paused", "Paused"), ("cancelled", "Cancelled")]),
    C("legacy_student_id", "Student number (legacy LMS)", "string", "text"),
    C("student_id_copy", "Student ID copy", "string", "text"),
    C("guardian_phone", "Parent/guardian phone", "string", "phonenumber"),
    C("learning_goals", "Learning goals", "string", "textarea"),
    C("lms_last_active", "Last active in LMS", "datetime", "date"),
], fields=BUILTINS_STD[:6] + [
    F("notes", "string", None),
    F("coursesCompleted", "number", "courses_completed", "Completed courses"),
    F("currentCourse", "string", "enrolled_course", "Course"),
    F("studentId", "string", "student_id", "Student ID"),
    F("enrolledAt", "date", "enrollment_date", "Enrolled"),
    F("graduatedAt", "date", "graduation_date", "Graduated"),
    F("status", "enum", "subscription_status", "Subscription status", options=["active", "paused", "cancelled"]),
    F("guardianPhone", "phone", "guardian_phone", "Guardian phone"),
    F("goals", "string", "learning_goals", "Goals"),
    F("lastActive", "datetime", "lms_last_active", "Last active"),
    F("lifecycle", "enum", "lifecyclestage", "Lifecycle stage", options=["lead", "customer"]),
    F("country", "string", "country", "Country"),
    F("scholarship", "boolean", None, "Scholarship"),
    F("gpa", "number", None, "GPA"),
])

# 9. Logistics B2B (contacts), mostly defaults and several no-match fields.
PORTALS["logistics_cargoline"] = dict(object="contacts", custom=[
    C("customer_number", "Customer no.", "string", "text"),
    C("preferred_carrier", "Preferred carrier", "enumeration", "select", options=[("dhl", "DHL"), ("ups", "UPS"), ("fedex", "FedEx")]),
    C("monthly_shipments", "Shipments per month", "number", "number"),
    C("depot", "Depot", "string", "text"),
    C("phone_2", "Phone 2", "string", "phonenumber", "Secondary phone"),
    C("notes_internal", "Internal notes", "string", "textarea"),
], fields=BUILTINS_STD[:6] + [
    F("notes", "string", "notes_internal"),
    F("customerNumber", "string", "customer_number", "Customer number"),
    F("carrier", "enum", "preferred_carrier", "Carrier", options=["dhl", "ups", "fedex"]),
    F("shipmentsPerMonth", "number", "monthly_shipments", "Monthly shipments"),
    F("depot", "string", "depot", "Depot"),
    F("secondaryPhone", "phone", "phone_2", "Secondary phone"),
    F("fax", "string", "fax", "Fax"),
    F("state", "string", "state", "State"),
    F("website", "string", "website", "Website"),
    F("industry", "string", "industry", "Industry"),
    F("hazmatCertified", "boolean", None, "Hazmat certified"),
    F("palletCount", "number", None, "Pallets"),
    F("incoterms", "enum", None, "Incoterms", options=["exw", "fob", "ddp"]),
    F("customsBroker", "string", None, "Customs broker"),
])

# 10. Fintech (contacts): KYC, read-only calculated look-alikes.
PORTALS["fintech_ledgerly"] = dict(object="contacts", custom=[
    C("kyc_status", "KYC status", "enumeration", "select", options=[("pending", "Pending"), ("verified", "Verified"), ("rejected", "Rejected")]),
    C("account_balance", "Account balance", "number", "number"),
    C("hs_account_balance_rollup", "Account balance (rollup)", "number", "rollup", calc=True),
    C("risk_rating", "Risk rating", "enumeration", "select", options=[("low", "Low"), ("medium", "Medium"), ("high", "High")]),
    C("iban_last4", "IBAN (last 4)", "string", "text"),
    C("onboarded_at", "Onboarding completed", "datetime", "date"),
    C("referral_code", "Referral code", "string", "text"),
    C("mobile_number_verified", "Verified mobile", "string", "phonenumber"),
    C("card_tier", "Card", "enumeration", "select", options=[("standard", "Standard"), ("premium", "Premium"), ("metal", "Metal")]),
    C("total_revenue_backup", "Total revenue (backup)", "number", "number"),
], fields=BUILTINS_STD[:2] + [
    F("phone", "phone", "mobile_number_verified", "Phone", "Verified mobile number"),
    F("company", "string", "company"), F("jobTitle", "string", "jobtitle"), F("location", "string", "city"), F("notes", "string", None),
    F("kycStatus", "enum", "kyc_status", "KYC", options=["pending", "verified", "rejected"]),
    F("balance", "number", "account_balance", "Balance"),
    F("riskRating", "enum", "risk_rating", "Risk", options=["low", "medium", "high"]),
    F("ibanLast4", "string", "iban_last4", "IBAN last 4"),
    F("onboardedAt", "datetime", "onboarded_at", "Onboarded"),
    F("referralCode", "string", "referral_code", "Referral code"),
    F("cardTier", "enum", "card_tier", "Card tier", options=["standard", "premium", "metal"]),
    F("lifetimeRevenue", "number", "total_revenue", "Lifetime revenue", "Read from HubSpot deals"),
    F("creditScore", "number", None, "Credit score"),
    F("taxResidency", "string", None, "Tax residency"),
    F("signupDate", "date", None, "Signup date"),
])

def main():
    out = os.path.join(HERE, "portals")
    os.makedirs(out, exist_ok=True)
    total = 0
    for name, p in PORTALS.items():
        defaults = CONTACT_DEFAULTS if p["object"] == "contacts" else COMPANY_DEFAULTS
        props = defaults + p["custom"]
        names = [x["name"] for x in props]
        assert len(names) == len(set(names)), name
        for f in p["fields"]:
            assert f["expected"] is None or f["expected"] in names, (name, f)
        doc = {"portal": name, "object": p["object"], "fields": p["fields"], "properties": {"results": props}}
        with open(os.path.join(out, name + ".json"), "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        total += len(p["fields"])
        print(name, len(p["fields"]), "decisions,", len(props), "properties")
    print("total", total)

if __name__ == "__main__":
    main()
