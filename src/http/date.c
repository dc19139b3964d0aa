/*
 * date.c — the Date header's IMF-fixdate (RFC 9110 5.6.7), formatted at
 * most once per second per thread.
 *
 * The cache is thread-local: every M (and plain thread) keeps the text of
 * the last second it formatted, so no lock or atomic is needed and the
 * common case is one clock read and a 29-byte copy. A goroutine that moves
 * to another M just reads that M's cache, which is as current as its own.
 */
#include <string.h>
#include <time.h>

#include "http.h"

#define DATE_LEN 29
#define LAST_FOUR_DIGIT_SECOND INT64_C(253402300799) /* 9999-12-31 23:59:59 */

static _Thread_local struct {
	int64_t second; /* the Unix second text describes; 0: never formatted */
	char text[GOC_HTTP_DATE_SIZE];
} date_cache;

static void two_digits(char *out, int value)
{
	out[0] = (char)('0' + value / 10);
	out[1] = (char)('0' + value % 10);
}

/* The proleptic Gregorian date of a day count since 1970-01-01, by eras of
 * 400 years (146097 days) counted from 0000-03-01, so that the leap day
 * falls at the end of each year of the era. */
static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
	days += 719468; /* days from 0000-03-01 to 1970-01-01 */
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t day_of_era = days - era * 146097;
	int64_t year_of_era =
		(day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	int64_t day_of_year =
		day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	int64_t month_from_march = (5 * day_of_year + 2) / 153;
	*day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
	*month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
	*year = (int)(year_of_era + era * 400 + (*month <= 2));
}

size_t goc_http_date_format(int64_t unix_seconds, char out[GOC_HTTP_DATE_SIZE])
{
	static const char weekdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (unix_seconds < 0)
		unix_seconds = 0;
	if (unix_seconds > LAST_FOUR_DIGIT_SECOND)
		unix_seconds = LAST_FOUR_DIGIT_SECOND;
	int64_t days = unix_seconds / 86400, in_day = unix_seconds % 86400;
	int year, month, day;
	civil_from_days(days, &year, &month, &day);
	memcpy(out, weekdays[days % 7], 3);
	memcpy(out + 3, ", ", 2);
	two_digits(out + 5, day);
	out[7] = ' ';
	memcpy(out + 8, months[month - 1], 3);
	out[11] = ' ';
	two_digits(out + 12, year / 100);
	two_digits(out + 14, year % 100);
	out[16] = ' ';
	two_digits(out + 17, (int)(in_day / 3600));
	out[19] = ':';
	two_digits(out + 20, (int)(in_day / 60 % 60));
	out[22] = ':';
	two_digits(out + 23, (int)(in_day % 60));
	memcpy(out + 25, " GMT", 5);
	return DATE_LEN;
}

size_t goc_http_date(char out[GOC_HTTP_DATE_SIZE])
{
	int64_t now = (int64_t)time(NULL);
	if (now != date_cache.second) {
		goc_http_date_format(now, date_cache.text);
		date_cache.second = now;
	}
	memcpy(out, date_cache.text, GOC_HTTP_DATE_SIZE);
	return DATE_LEN;
}
