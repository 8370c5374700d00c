"""The assignment form: scope, effect, one field per definition parameter, exclusions, exemptions, message."""

from django import forms

from inventory.models import ResourceGroup, Subscription, Tenant
from policies.governance.choices import Effect
from policies.governance.definitions import Definition, parameter_choices

SCOPE_MODELS = {"tenant": Tenant, "subscription": Subscription, "resource_group": ResourceGroup}


def scope_choices(user) -> list[tuple[str, str]]:
    choices = []
    for level, model in SCOPE_MODELS.items():
        for obj in model.objects.for_user(user):
            choices.append((f"{level}:{obj.pk}", f"{level.replace('_', ' ').capitalize()}: {obj}"))
    return choices


def scope_from_value(user, value: str):
    level, _, pk = (value or "").partition(":")
    model = SCOPE_MODELS.get(level)
    if model is None or not pk.isdigit():
        return None
    return model.objects.for_user(user).filter(pk=int(pk)).first()


class AssignmentForm(forms.Form):
    scope = forms.ChoiceField(help_text="Tenant, subscription or resource group the assignment covers.")
    name = forms.CharField(max_length=120, required=False)
    effect = forms.ChoiceField()
    excluded_scopes = forms.MultipleChoiceField(
        required=False, help_text="Child subscriptions or resource groups left out of evaluation."
    )
    exempt_resources = forms.CharField(
        required=False, help_text="Ids of resources evaluated as exempt, separated by commas."
    )
    non_compliance_message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    auto_remediate = forms.BooleanField(required=False, label="Remediate new datasources automatically")

    def __init__(self, *args, definition: Definition, user, instance=None, **kwargs):
        self.definition, self.user, self.instance = definition, user, instance
        initial = kwargs.setdefault("initial", {})
        if instance is not None:
            initial.update(
                scope=f"{instance.scope_level}:{instance.scope_object.pk}",
                name=instance.name,
                effect=instance.effect,
                excluded_scopes=[f"{s['level']}:{s['id']}" for s in instance.excluded_scopes],
                exempt_resources=", ".join(str(pk) for pk in instance.exempt_resources),
                non_compliance_message=instance.non_compliance_message,
                auto_remediate=instance.auto_remediate,
                **{f"param_{k}": v for k, v in instance.parameters.items()},
            )
        else:
            initial.setdefault("effect", definition.default_effect)
            initial.setdefault("name", definition.name)
        super().__init__(*args, **kwargs)
        scopes = scope_choices(user)
        self.fields["scope"].choices = scopes
        self.fields["excluded_scopes"].choices = [c for c in scopes if not c[0].startswith("tenant:")]
        self.fields["effect"].choices = [(e, Effect(e).label) for e in definition.effects]
        if instance is not None:
            self.fields["scope"].disabled = True
        if not definition.remediable:
            del self.fields["auto_remediate"]
        for parameter in definition.parameters:
            name = f"param_{parameter.name}"
            if parameter.kind == "bool":
                field = forms.BooleanField(required=False)
            elif parameter.kind == "multichoice":
                field = forms.MultipleChoiceField(choices=parameter_choices(parameter), required=False)
            elif parameter.kind == "choice":
                field = forms.ChoiceField(choices=parameter.choices)
            elif parameter.kind in ("int", "policy"):
                field = forms.IntegerField(required=parameter.required, min_value=parameter.minimum)
            elif parameter.kind == "strings":
                field = forms.CharField(required=False, help_text="Separate values with commas.")
            else:
                field = forms.CharField(required=parameter.required)
            field.label = parameter.label
            if parameter.kind == "policy":
                field.help_text = "Id of the backup policy (its vault receives the datasources)."
            if instance is None and parameter.default is not None and name not in self.initial:
                self.initial[name] = parameter.default
            self.fields[name] = field
        # Bootstrap classes for every field, including the parameter fields added above.
        for field in self.fields.values():
            widget = field.widget
            css = "form-check-input" if isinstance(widget, forms.CheckboxInput) else "form-control"
            if isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            widget.attrs.setdefault("class", css)

    def clean_exempt_resources(self) -> list[int]:
        raw = self.cleaned_data.get("exempt_resources", "")
        try:
            return [int(x) for x in raw.replace(" ", "").split(",") if x]
        except ValueError:
            raise forms.ValidationError("Give resource ids (numbers) separated by commas.") from None

    def service_data(self) -> dict:
        data = self.cleaned_data
        parameters = {}
        for parameter in self.definition.parameters:
            value = data.get(f"param_{parameter.name}")
            if parameter.kind == "strings" and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            parameters[parameter.name] = value
        excluded = []
        for value in data.get("excluded_scopes") or []:
            level, _, pk = value.partition(":")
            excluded.append({"level": level, "id": int(pk)})
        result = {
            "name": data.get("name") or self.definition.name,
            "effect": data["effect"],
            "parameters": parameters,
            "excluded_scopes": excluded,
            "exempt_resources": data.get("exempt_resources") or [],
            "non_compliance_message": data.get("non_compliance_message", ""),
            "auto_remediate": bool(data.get("auto_remediate")),
        }
        if self.instance is None:
            result["scope"] = scope_from_value(self.user, data["scope"])
            result["definition_key"] = self.definition.key
        return result
