"""Django's admin for what only admins set up: tagging rules (and the tags they use)."""

from django import forms
from django.contrib import admin

from .exceptions import InvalidReview
from .models import Rule, Tag
from .rules import rule_filter


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["name", "query", "tag", "enabled"]

    def clean_query(self):
        try:
            rule_filter(self.cleaned_data["query"])
        except InvalidReview as e:
            raise forms.ValidationError(e.problem) from None
        return self.cleaned_data["query"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ["name", "query", "tag", "enabled"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "colour"]
    search_fields = ["name"]
